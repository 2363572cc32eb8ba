//! Running the real binary: start it, read its log, signal it, wait for
//! it to exit.

#![allow(dead_code)] // each test file uses a part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Starts the binary on an ephemeral port with `args` added (a later
/// `--log-level` wins over `info`); returns it, its address (read from
/// its "listening" log line) and every line it logs.
pub(crate) fn start(args: &[&str]) -> (Child, String, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwire-server"))
        .args(["--bind", "127.0.0.1:0"])
        .args(if args.contains(&"--log-level") {
            &[][..]
        } else {
            &["--log-level", "info"][..]
        })
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let (log_tx, logs) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("ws://").nth(1) {
                let addr = rest.split('/').next().unwrap_or_default().to_owned();
                let _ = tx.send(addr);
            }
            let _ = log_tx.send(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server logs its address");
    (child, addr, logs)
}

pub(crate) fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: signalling the child this test started, by its pid.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0);
}

pub(crate) fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
