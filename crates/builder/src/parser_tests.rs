use super::*;

fn p(text: &str) -> Ast {
    parse("Dockerfile", text).unwrap_or_else(|e| panic!("{e}"))
}

fn perr(text: &str) -> ParseError {
    parse("Dockerfile", text).unwrap_err()
}

#[test]
fn keywords_are_case_insensitive_and_lines_numbered() {
    let a = p("from busybox\n\n  Run echo hi\n# comment\nCMD [\"sh\"]\n");
    let kw: Vec<_> = a.nodes.iter().map(|n| n.keyword.as_str()).collect();
    assert_eq!(kw, ["from", "run", "cmd"]);
    assert_eq!(a.nodes[1].original, "Run echo hi");
    assert_eq!(a.nodes[1].start_line, 3);
    assert_eq!(a.nodes[2].start_line, 5);
    assert_eq!(a.nodes[2].rest, "[\"sh\"]");
}

#[test]
fn continuations_skip_comments_and_blank_lines() {
    let a = p("RUN echo a \\\n  # inside\n\n  b \\  \n c\nENV X=1\n");
    assert_eq!(a.nodes.len(), 2);
    assert_eq!(a.nodes[0].rest, "echo a   b  c");
    assert_eq!(a.nodes[0].start_line, 1);
    assert_eq!(a.nodes[0].end_line, 5);
    assert_eq!(a.nodes[1].start_line, 6);
    assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
    // A continuation at the end of the file ends the instruction.
    let a = p("RUN echo \\");
    assert_eq!(a.nodes[0].rest, "echo");
}

#[test]
fn directives_and_escape() {
    let a = p("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo\n");
    assert_eq!(a.directives.escape, '`');
    assert_eq!(a.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(a.nodes[1].rest, "dir c:\\   && echo");
    // Directives end at the first other line: later ones are comments.
    let a = p("FROM x\n# escape=`\nRUN a \\\n b\n");
    assert_eq!(a.directives.escape, '\\');
    assert_eq!(a.nodes[1].rest, "a  b");
    let a = p("# comment\n# escape=`\nFROM x\n");
    assert_eq!(a.directives.escape, '\\');
    // Case and spacing in the directive name do not matter.
    let a = p("#  ESCAPE = `\nFROM x\n");
    assert_eq!(a.directives.escape, '`');
    let e = perr("# escape=x\nFROM x\n");
    assert_eq!(
        e.to_string(),
        "dockerfile parse error line 1: invalid escape token 'x' does not match ` or \\"
    );
    let e = perr("# escape=`\n# escape=\\\nFROM x\n");
    assert_eq!(e.line, 2);
    assert!(
        e.message.contains("only one escape parser directive"),
        "{e}"
    );
    assert_eq!(e.file, "Dockerfile");
}

#[test]
fn bom_and_crlf() {
    let a = p("\u{feff}FROM x\r\nRUN a \\\r\n b\r\n");
    assert_eq!(a.nodes[0].keyword, "from");
    assert_eq!(a.nodes[1].rest, "a  b");
}

#[test]
fn flags_are_split_off() {
    let a = p("COPY --from=build --chown=\"1:2\" a b\nRUN -- --notflag\n");
    assert_eq!(a.nodes[0].flags, ["--from=build", "--chown=1:2"]);
    assert_eq!(a.nodes[0].rest, "a b");
    assert!(a.nodes[1].flags.is_empty());
    assert_eq!(a.nodes[1].rest, "--notflag");
}

#[test]
fn heredocs() {
    let a = p(
        "FROM x\nRUN <<EOF\necho a\necho $B\nEOF\nCOPY <<-\"A\" <<B /d/\n\tone\n\tA\ntwo\nB\nCMD x\n",
    );
    let run = &a.nodes[1];
    assert_eq!(run.heredocs.len(), 1);
    assert_eq!(run.heredocs[0].name, "EOF");
    assert_eq!(run.heredocs[0].content, "echo a\necho $B\n");
    assert!(run.heredocs[0].expand);
    assert_eq!(run.start_line, 2);
    assert_eq!(run.end_line, 5);
    let copy = &a.nodes[2];
    assert_eq!(copy.heredocs.len(), 2);
    assert_eq!(copy.heredocs[0].name, "A");
    assert!(
        !copy.heredocs[0].expand,
        "a quoted terminator turns expansion off"
    );
    assert!(copy.heredocs[0].chomp);
    assert_eq!(copy.heredocs[0].content, "one\n");
    assert_eq!(copy.heredocs[1].content, "two\n");
    assert_eq!(a.nodes[3].keyword, "cmd");
    assert_eq!(a.nodes[3].start_line, 11);
    // With a descriptor and a command around it.
    let a = p("RUN 3<<X cat /proc/self/fd/3 > /f\nhi\nX\n");
    assert_eq!(a.nodes[0].heredocs[0].fd, 3);
    // Heredocs only in RUN, COPY and ADD.
    let a = p("CMD <<EOF\nENV A=1\n");
    assert_eq!(a.nodes.len(), 2);
    // `<<` alone or a shift inside a word is no heredoc.
    let a = p("RUN echo $((1<<2))\n");
    assert!(a.nodes[0].heredocs.is_empty());
}

#[test]
fn unterminated_heredoc_names_the_instruction_line() {
    let e = perr("FROM x\n\nRUN <<EOF\necho\n");
    assert_eq!(e.line, 3);
    assert_eq!(
        e.to_string(),
        "dockerfile parse error line 3: unterminated heredoc"
    );
}

#[test]
fn words_keep_quotes() {
    assert_eq!(
        parse_words(r#"A="a b" B=c\ d 'x y'=z"#, '\\'),
        [r#"A="a b""#, r"B=c\ d", "'x y'=z"]
    );
    assert_eq!(parse_words("  a   b  ", '\\'), ["a", "b"]);
    assert_eq!(parse_words("''", '\\'), ["''"]);
    assert_eq!(parse_words(r#""a\"b""#, '\\'), [r#""a\"b""#]);
    assert_eq!(parse_words("a\\", '\\'), ["a"]);
}

#[test]
fn json_arrays() {
    assert_eq!(
        parse_json_array(r#"["a", "b c"]"#).unwrap(),
        Some(vec!["a".to_string(), "b c".to_string()])
    );
    assert_eq!(parse_json_array("echo [x]").unwrap(), None);
    assert_eq!(parse_json_array("[not json").unwrap(), None);
    assert!(parse_json_array("[1, 2]").is_err());
}

#[test]
fn arbitrary_input_never_panics() {
    let pieces = [
        "FROM", "RUN", " ", "\\", "\n", "#", "<<", "EOF", "\"", "'", "`", "--", "=", "[", "]",
        "\t", "escape=`", "-", "\r",
    ];
    for a in pieces {
        for b in pieces {
            for c in pieces {
                for d in pieces {
                    let s = format!("{a}{b}{c}{d}");
                    let _ = parse("Dockerfile", &s);
                }
            }
        }
    }
}
