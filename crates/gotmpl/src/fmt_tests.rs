//! Tests of `fmt`.
use super::*;

fn s(x: &str) -> Value {
    Value::str(x)
}

#[test]
fn printf_matches_go() {
    let cases: Vec<(&str, Vec<Value>, &str)> = vec![
        (
            "%05s|%-05d|%05d",
            vec![s("ab"), Value::Int(3), Value::Int(-3)],
            "000ab|3    |-0003",
        ),
        (
            "%x|%X|% x|%#x",
            vec![s("hi"), Value::Int(255), s("hi"), s("hi")],
            "6869|FF|68 69|0x6869",
        ),
        (
            "%8.3f|%-8.2f|%+d|% d",
            vec![
                Value::Float(3.14158),
                Value::Float(2.5),
                Value::Int(5),
                Value::Int(5),
            ],
            "   3.142|2.50    |+5| 5",
        ),
        (
            "%q %c %U %#U",
            vec![
                Value::Int(65),
                Value::Int(0x1F600),
                Value::Int(0x1F600),
                Value::Int(65),
            ],
            "'A' 😀 U+1F600 U+0041 'A'",
        ),
        (
            "%x %o %O %b %#o %#b",
            vec![
                Value::Int(-255),
                Value::Int(8),
                Value::Int(8),
                Value::Int(5),
                Value::Int(8),
                Value::Int(5),
            ],
            "-ff 10 0o10 101 010 0b101",
        ),
        (
            "%[2]d %[1]d %d",
            vec![Value::Int(1), Value::Int(2)],
            "2 1 2",
        ),
        ("%d %d", vec![Value::Int(1)], "1 %!d(MISSING)"),
        (
            "%d",
            vec![Value::Int(1), Value::Int(2), s("x")],
            "1%!(EXTRA int=2, string=x)",
        ),
        ("%!", vec![], "%!!(MISSING)"),
        ("%z", vec![Value::Int(1)], "%!z(int=1)"),
        (
            "%*d|%-*d|%.*f",
            vec![
                Value::Int(5),
                Value::Int(1),
                Value::Int(4),
                Value::Int(2),
                Value::Int(2),
                Value::Float(3.14158),
            ],
            "    1|2   |3.14",
        ),
        ("%[3]d", vec![Value::Int(1)], "%!d(BADINDEX)"),
        ("%", vec![], "%!(NOVERB)"),
        (
            "%s|%d|%v",
            vec![Value::Invalid, Value::Nil, Value::Invalid],
            "%!s(<nil>)|%!d(<nil>)|<nil>",
        ),
        (
            "%#g|%#.3x",
            vec![Value::Float(1.0), Value::Float(1.0)],
            "1.00000|0x1.000p+00",
        ),
    ];
    for (f, args, want) in cases {
        assert_eq!(sprintf(f, &args), want, "format {f:?}");
    }
}

#[test]
fn sprint_spacing() {
    let args = [
        Value::Invalid,
        Value::Int(1),
        Value::Int(2),
        s("a"),
        s("b"),
        Value::Int(3),
        Value::Bool(true),
    ];
    assert_eq!(sprint(&args), "<nil> 1 2ab3 true");
}
