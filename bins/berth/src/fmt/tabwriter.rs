//! Go's `text/tabwriter` algorithm, as docker's tables use it (minimum width 10,
//! padding 3, blanks, left-aligned): text is split into cells at `\t`; a cell is
//! padded to the width of its column, and a column's width is computed over the
//! run of consecutive lines that have a cell in it (a "column block"), so lines with
//! fewer cells start new blocks. The last cell of a line is not part of any column.
//! A line with no tab at all flushes what came before it.

/// Formats tab-separated `text` into aligned columns.
pub fn format(text: &str, minwidth: usize, padding: usize) -> String {
    let mut w = Writer::new(minwidth, padding);
    w.write(text);
    w.flush()
}

/// Docker's table layout: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
pub fn table(text: &str) -> String {
    format(text, 10, 3)
}

struct Cell {
    text: String,
    width: usize,
}

struct Writer {
    minwidth: usize,
    padding: usize,
    /// Complete lines of the current block; the last line is the one being written.
    lines: Vec<Vec<Cell>>,
    cell: String,
    widths: Vec<usize>,
    out: String,
}

impl Writer {
    fn new(minwidth: usize, padding: usize) -> Writer {
        Writer {
            minwidth,
            padding,
            lines: vec![Vec::new()],
            cell: String::new(),
            widths: Vec::new(),
            out: String::new(),
        }
    }

    fn terminate_cell(&mut self) -> usize {
        let text = std::mem::take(&mut self.cell);
        let width = text.chars().count();
        let line = self
            .lines
            .last_mut()
            .expect("there is always a current line");
        line.push(Cell { text, width });
        line.len()
    }

    fn write(&mut self, text: &str) {
        for ch in text.chars() {
            match ch {
                '\t' | '\x0b' => {
                    self.terminate_cell();
                }
                '\n' | '\x0c' => {
                    let ncells = self.terminate_cell();
                    self.lines.push(Vec::new());
                    // A line of one cell cannot be part of a column: everything
                    // before it is formatted now (Go does the same).
                    if ch == '\x0c' || ncells == 1 {
                        self.flush_lines();
                    }
                }
                c => self.cell.push(c),
            }
        }
    }

    fn flush(mut self) -> String {
        if !self.cell.is_empty() {
            self.terminate_cell();
        }
        self.flush_lines();
        self.out
    }

    fn flush_lines(&mut self) {
        let n = self.lines.len();
        self.format(0, n);
        // The last (incomplete) line was written without its newline; keep nothing.
        self.lines = vec![Vec::new()];
        self.widths.clear();
    }

    fn write_lines(&mut self, line0: usize, line1: usize) {
        for i in line0..line1 {
            let line = &self.lines[i];
            for (j, c) in line.iter().enumerate() {
                self.out.push_str(&c.text);
                if j < self.widths.len() {
                    let pad = self.widths[j].saturating_sub(c.width);
                    self.out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if i + 1 == self.lines.len() {
                // The partial last line: its text is already out (cells only).
            } else {
                self.out.push('\n');
            }
        }
    }

    fn format(&mut self, line0: usize, line1: usize) {
        let mut line0 = line0;
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            // A new block of this column starts here: print what came before.
            self.write_lines(line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 {
                let line = &self.lines[this];
                if column + 1 >= line.len() {
                    break;
                }
                width = width.max(line[column].width + self.padding);
                this += 1;
            }
            self.widths.push(width);
            self.format(line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_like_docker_tables() {
        let t = table("CONTAINER ID\tIMAGE\tNAMES\nabc\tbusybox\tweb\n");
        assert_eq!(
            t,
            "CONTAINER ID   IMAGE     NAMES\nabc            busybox   web\n"
        );
    }

    #[test]
    fn empty_cells_still_pad() {
        let t = table("A\tPORTS\tNAMES\nx\t\tweb\n");
        assert_eq!(t, "A         PORTS     NAMES\nx                   web\n");
    }

    #[test]
    fn a_line_without_tabs_starts_a_new_block() {
        let t = table("a\tb\ntitle\nlong cell here\tc\n");
        assert_eq!(t, "a         b\ntitle\nlong cell here   c\n");
    }

    #[test]
    fn text_without_a_final_newline_is_kept() {
        assert_eq!(table("a\tb"), "a         b");
        assert_eq!(table(""), "");
    }
}
