use super::*;

fn df(text: &str) -> Dockerfile {
    Dockerfile::parse("Dockerfile", text).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> ParseError {
    Dockerfile::parse("Dockerfile", text).unwrap_err()
}

fn only(text: &str) -> Instruction {
    let d = df(&format!("FROM x\n{text}\n"));
    d.stages[0].commands[0].instruction.clone()
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v.into(),
    }
}

#[test]
fn stages_meta_args_and_names() {
    let d = df(
        "ARG V=1\nARG B\nFROM img:$V AS Build\nRUN a\nfrom --platform=linux/amd64 scratch\nCOPY --from=build /a /b\n",
    );
    assert_eq!(d.meta_args.len(), 2);
    assert_eq!(d.stages.len(), 2);
    assert_eq!(d.stages[0].name.as_deref(), Some("build"));
    assert_eq!(d.stages[0].base, "img:$V");
    assert_eq!(d.stages[1].platform.as_deref(), Some("linux/amd64"));
    assert_eq!(d.stage_index("BUILD"), Some(0));
    assert_eq!(d.stage_index("1"), Some(1));
    assert_eq!(d.stage_index("2"), None);
    assert_eq!(d.stage_index("nope"), None);
}

#[test]
fn from_errors() {
    assert_eq!(
        err("FROM a b\n").to_string(),
        "dockerfile parse error line 1: FROM requires either one or three arguments"
    );
    assert!(
        err("FROM a AS 1x\n")
            .message
            .contains("invalid name for build stage")
    );
    assert!(
        err("FROM a AS x!\n")
            .message
            .contains("invalid name for build stage")
    );
    assert_eq!(err("FROM --foo=1 a\n").message, "Unknown flag: foo");
    assert_eq!(
        err("FROM --platform a\n").message,
        "Missing a value on flag: platform"
    );
    let e = err("# hi\nRUN x\n");
    assert_eq!(e.line, 2);
    assert_eq!(e.message, "no build stage in current context");
    assert_eq!(err("\n# only\n").message, "file with no instructions");
    assert_eq!(err("ARG A\n").message, "file with no instructions");
}

#[test]
fn unknown_instruction_has_the_line_number() {
    let e = err("FROM busybox\n\n# c\nFOO bar\n");
    assert_eq!(
        e.to_string(),
        "dockerfile parse error line 4: unknown instruction: FOO"
    );
    assert_eq!(err("FROM x\nfoo\n").message, "unknown instruction: FOO");
}

#[test]
fn env_and_label_forms() {
    assert_eq!(
        only(r#"ENV A=1 B="two words" C=x\ y"#),
        Instruction::Env(vec![
            kv("A", "1"),
            kv("B", "\"two words\""),
            kv("C", r"x\ y")
        ])
    );
    assert_eq!(
        only("ENV OLD  the rest of  it"),
        Instruction::Env(vec![kv("OLD", "the rest of  it")])
    );
    assert_eq!(
        only(r#"LABEL "k 2"=v x=y"#),
        Instruction::Label(vec![kv("\"k 2\"", "v"), kv("x", "y")])
    );
    assert_eq!(
        err("FROM x\nENV A\n").message,
        "ENV must have two arguments"
    );
    assert_eq!(
        err("FROM x\nENV\n").message,
        "ENV requires at least one argument"
    );
    assert!(
        err("FROM x\nENV A=1 B\n")
            .message
            .contains("can't find = in \"B\"")
    );
    assert!(
        err("FROM x\nLABEL =v\n")
            .message
            .contains("can not be blank")
    );
    let e = err("FROM x\nENV A=\"open\n");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("matching double-quote"), "{e}");
}

#[test]
fn arg_forms() {
    assert_eq!(
        only("ARG A B=2 C="),
        Instruction::Arg(vec![
            ArgDecl {
                key: "A".into(),
                default: None
            },
            ArgDecl {
                key: "B".into(),
                default: Some("2".into())
            },
            ArgDecl {
                key: "C".into(),
                default: Some("".into())
            },
        ])
    );
    assert!(err("FROM x\nARG =1\n").message.contains("blank"));
    assert!(err("FROM x\nARG\n").message.contains("at least one"));
}

#[test]
fn shell_and_exec_forms() {
    assert_eq!(
        only(r#"CMD ["a", "b"]"#),
        Instruction::Cmd(CmdLine::Exec(vec!["a".into(), "b".into()]))
    );
    assert_eq!(
        only("CMD echo [hi]"),
        Instruction::Cmd(CmdLine::Shell("echo [hi]".into()))
    );
    assert_eq!(
        only(r#"ENTRYPOINT ["a" "b"]"#),
        Instruction::Entrypoint(CmdLine::Shell(r#"["a" "b"]"#.into())),
        "invalid JSON is the shell form"
    );
    assert_eq!(
        only("RUN echo hi"),
        Instruction::Run(Run {
            cmd: CmdLine::Shell("echo hi".into()),
            heredocs: vec![]
        })
    );
    assert!(err("FROM x\nRUN [1]\n").message.contains("strings only"));
    assert_eq!(
        only(r#"SHELL ["/bin/bash", "-c"]"#),
        Instruction::Shell(vec!["/bin/bash".into(), "-c".into()])
    );
    assert_eq!(
        err("FROM x\nSHELL /bin/sh\n").message,
        "SHELL requires the arguments to be in JSON form"
    );
    assert!(
        err("FROM x\nRUN --mount=type=cache,target=/x true\n")
            .message
            .starts_with("the --mount option requires BuildKit")
    );
    assert_eq!(
        err("FROM x\nRUN --bogus true\n").message,
        "Unknown flag: bogus"
    );
    assert_eq!(err("FROM x\nCMD --x y\n").message, "Unknown flag: x");
}

#[test]
fn copy_and_add() {
    let Instruction::Copy(c) = only("COPY --from=b --chown=1:2 --chmod=640 --link a b* /d/") else {
        panic!()
    };
    assert_eq!(c.sources, ["a", "b*"]);
    assert_eq!(c.dest, "/d/");
    assert_eq!(c.from.as_deref(), Some("b"));
    assert_eq!(c.chown.as_deref(), Some("1:2"));
    assert_eq!(c.chmod.as_deref(), Some("640"));
    assert!(c.link);
    let Instruction::Add(c) = only(r#"ADD ["a b", "/d"]"#) else {
        panic!()
    };
    assert_eq!(c.sources, ["a b"]);
    assert_eq!(
        err("FROM x\nCOPY a\n").message,
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined."
    );
    assert_eq!(
        err("FROM x\nADD --from=x a b\n").message,
        "Unknown flag: from"
    );
    assert_eq!(
        err("FROM x\nCOPY --from=a --from=b a b\n").message,
        "Duplicate flag specified: from"
    );
    assert!(
        err("FROM x\nCOPY --chmod=999 a b\n")
            .message
            .contains("chmod")
    );
    assert!(
        err("FROM x\nCOPY --link=maybe a b\n")
            .message
            .contains("boolean")
    );
    let Instruction::Copy(c) = only("COPY <<EOF /f\nhello\nEOF") else {
        panic!()
    };
    assert_eq!(c.sources, ["<<EOF"]);
    assert_eq!(c.heredocs[0].content, "hello\n");
}

#[test]
fn single_argument_instructions() {
    assert_eq!(only("WORKDIR /a b"), Instruction::Workdir("/a b".into()));
    assert_eq!(only("USER 1:2"), Instruction::User("1:2".into()));
    assert_eq!(
        only("STOPSIGNAL SIGKILL"),
        Instruction::StopSignal("SIGKILL".into())
    );
    assert_eq!(
        err("FROM x\nWORKDIR\n").message,
        "WORKDIR requires exactly one argument"
    );
    assert_eq!(
        only("EXPOSE 80 90/udp"),
        Instruction::Expose(vec!["80".into(), "90/udp".into()])
    );
    assert_eq!(
        only(r#"VOLUME ["/a", "/b"]"#),
        Instruction::Volume(vec!["/a".into(), "/b".into()])
    );
    assert_eq!(only("VOLUME /a /b"), only(r#"VOLUME ["/a", "/b"]"#));
    assert!(
        err("FROM x\nVOLUME [\"\"]\n")
            .message
            .contains("empty string")
    );
}

#[test]
fn healthcheck() {
    let Instruction::Healthcheck(h) =
        only("HEALTHCHECK --interval=5s --timeout=1m30s --retries=3 CMD curl -f x")
    else {
        panic!()
    };
    assert_eq!(h.interval, Duration::from_secs(5));
    assert_eq!(h.timeout, Duration::from_secs(90));
    assert_eq!(h.retries, 3);
    assert_eq!(h.test, Some(CmdLine::Shell("curl -f x".into())));
    let Instruction::Healthcheck(h) = only("healthcheck none") else {
        panic!()
    };
    assert!(h.none);
    assert!(
        err("FROM x\nHEALTHCHECK NONE x\n")
            .message
            .contains("no arguments")
    );
    assert!(
        err("FROM x\nHEALTHCHECK FOO x\n")
            .message
            .contains("Unknown type")
    );
    assert!(
        err("FROM x\nHEALTHCHECK --interval=0s CMD x\n")
            .message
            .contains("cannot be less than 1ms")
    );
    assert!(
        err("FROM x\nHEALTHCHECK --interval=5 CMD x\n")
            .message
            .contains("missing unit")
    );
    assert!(
        err("FROM x\nHEALTHCHECK --retries=-1 CMD x\n")
            .message
            .contains("negative")
    );
}

#[test]
fn go_durations() {
    assert_eq!(
        parse_go_duration("1h2m3s").unwrap(),
        Duration::from_secs(3723)
    );
    assert_eq!(
        parse_go_duration("1.5s").unwrap(),
        Duration::from_millis(1500)
    );
    assert_eq!(
        parse_go_duration("100ms").unwrap(),
        Duration::from_millis(100)
    );
    assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
    assert!(parse_go_duration("").is_err());
    assert!(parse_go_duration("5x").is_err());
    assert!(parse_go_duration("-1s").is_err());
    assert!(parse_go_duration("s").is_err());
}

#[test]
fn onbuild_triggers_are_checked() {
    assert_eq!(
        only("ONBUILD RUN echo hi"),
        Instruction::Onbuild("RUN echo hi".into())
    );
    assert!(
        err("FROM x\nONBUILD ONBUILD RUN x\n")
            .message
            .contains("Chaining ONBUILD")
    );
    assert_eq!(
        err("FROM x\nONBUILD FROM y\n").message,
        "FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err("FROM x\nONBUILD FOO\n").message,
        "unknown instruction: FOO"
    );
    let n = trigger_node("COPY --chown=1 a b", '`').unwrap();
    assert_eq!(n.keyword, "copy");
    assert_eq!(n.flags, ["--chown=1"]);
}
