use super::*;

fn resolve(args: &[&str]) -> Resolved {
    let root = command();
    normalize(&root, args.iter().map(OsString::from).collect())
}

#[test]
fn finds_the_command_path_through_aliases() {
    let r = resolve(&["berth", "-H", "unix:///x", "container", "ps", "-a"]);
    assert_eq!(r.words, ["container", "ps"]);
    assert_eq!(r.names, ["container", "ls"]);
    // docker names a command by its canonical name in messages.
    assert_eq!(r.path(), "berth container ls");
    assert!(!r.help);
}

#[test]
fn bool_flags_take_go_style_values() {
    let r = resolve(&["berth", "ps", "--all=false", "--no-trunc=true"]);
    let args: Vec<String> = r
        .args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert_eq!(args, ["berth", "ps", "--no-trunc"]);
}

#[test]
fn run_arguments_after_the_image_are_the_command() {
    let r = resolve(&[
        "berth",
        "run",
        "--rm",
        "busybox",
        "ls",
        "--help",
        "--all=false",
    ]);
    assert!(
        !r.help,
        "--help after the image belongs to the container's command"
    );
    let args: Vec<String> = r
        .args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // A `--` before the image makes the rest positional for clap.
    assert_eq!(
        args,
        [
            "berth",
            "run",
            "--rm",
            "--",
            "busybox",
            "ls",
            "--help",
            "--all=false"
        ]
    );
    let cli = parse(command(), &r).unwrap();
    let Some(Cmd::Run(run)) = cli.command else {
        panic!("not run")
    };
    assert_eq!(format!("{run:?}").matches("\"--all=false\"").count(), 1);
}

#[test]
fn help_is_found_before_the_arguments() {
    let r = resolve(&["berth", "image", "ls", "--help"]);
    assert!(r.help);
    assert_eq!(r.path(), "berth image ls");
}

#[test]
fn unknown_flags_are_docker_usage_errors() {
    let r = resolve(&["berth", "run", "--foo", "busybox"]);
    let e = parse(command(), &r).unwrap_err();
    assert_eq!(e.code, 125);
    assert_eq!(
        e.message,
        "unknown flag: --foo\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information"
    );
    let r = resolve(&["berth", "ps", "-Z"]);
    let e = parse(command(), &r).unwrap_err();
    assert!(
        e.message.starts_with("unknown shorthand flag: 'Z' in -Z\n"),
        "{}",
        e.message
    );
}

#[test]
fn unknown_commands_exit_1() {
    let r = resolve(&["berth", "frob"]);
    let e = parse(command(), &r).unwrap_err();
    assert_eq!(e.code, 1);
    assert_eq!(
        e.message,
        "berth: unknown command: berth frob\n\nRun 'berth --help' for more information"
    );
}

#[test]
fn bad_values_name_the_flag() {
    let r = resolve(&["berth", "ps", "-n", "abc"]);
    let e = parse(command(), &r).unwrap_err();
    assert_eq!(e.code, 125);
    assert!(
        e.message
            .starts_with("invalid argument \"abc\" for \"-n, --last\" flag:"),
        "{}",
        e.message
    );
    let r = resolve(&["berth", "ps", "--format"]);
    let e = parse(command(), &r).unwrap_err();
    assert!(
        e.message.starts_with("flag needs an argument: --format\n"),
        "{}",
        e.message
    );
}

#[test]
fn arity_errors_use_docker_wording() {
    let root = command();
    let cmd = find(&root, &["rm".to_string()]);
    let e = check_arity(0, Arity::Min(1), "berth rm", cmd).unwrap_err();
    assert_eq!(e.code, 1);
    assert_eq!(
        e.message,
        "berth: 'berth rm' requires at least 1 argument\n\nUsage:  berth rm [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'berth rm --help' for more information"
    );
    let cmd = find(&root, &["rename".to_string()]);
    let e = check_arity(1, Arity::Exact(2), "berth rename", cmd).unwrap_err();
    assert!(
        e.message
            .starts_with("berth: 'berth rename' requires 2 arguments\n")
    );
    assert!(
        e.message
            .ends_with("Run 'berth rename --help' for more information")
    );
}
