//! Atomic, Sequence and the user-interaction alerts (digest 7.3, 7.6): all or nothing
//! through the tree's undo log (216/507), an Exec inside an Atomic handed over only when
//! it commits, Sequence in order with 215 for what a declined prompt skips, and UI
//! alerts through the hook.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod session_support;

use scomo::codes::StatusCode;
use scomo::dm::codec::{Element, Encoding};
use scomo::dm::session::{UiAnswer, UiKind, UiPrompt};
use session_support::*;

/// Runs Package 1 and returns the device and the server ready for Package 2.
fn opened(enc: Encoding) -> (Dev, Srv, Out) {
    let mut dev = Dev::client(enc);
    let pkg1 = dev.start().out;
    (dev, Srv::new(enc, "1A2B"), pkg1)
}

#[test]
fn an_atomic_that_fails_rolls_back_everything_216_507() {
    for enc in ENCODINGS {
        let (mut dev, mut srv, pkg1) = opened(enc);
        let before = state(&dev.tree);
        let (mut atomic, mut ids) = (0, Vec::new());
        let body = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            atomic = s.container(w, Element::Atomic, |s, w| {
                ids.push(s.add_node(w, "./SCOMO/Download/A"));
                ids.push(s.add_chr(w, "./SCOMO/Download/A/PkgID", "a"));
                ids.push(s.add_node(w, "./SCOMO/Download/B"));
                ids.push(s.delete(w, "./SCOMO/Download/B"));
                // A Deployed component's ID is read-only for servers: 405.
                ids.push(s.replace_chr(w, "./SCOMO/Inventory/Deployed/Comp1/ID", "x"));
                ids.push(s.add_node(w, "./SCOMO/Download/C"));
            });
        });
        let out = dev.step(&body).sent().out;
        assert_eq!(out.code(atomic), 507);
        let codes: Vec<u32> = ids.iter().map(|&i| out.code(i)).collect();
        assert_eq!(codes, [216, 216, 216, 216, 405, 215]);
        assert_eq!(state(&dev.tree), before);
        assert!(dev.tree.scomo().download("A").is_none());
    }
}

#[test]
fn an_atomic_that_succeeds_hands_its_exec_over_when_it_commits() {
    for enc in ENCODINGS {
        let (mut dev, mut srv, pkg1) = opened(enc);
        let (mut atomic, mut ids) = (0, Vec::new());
        let body = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            atomic = s.container(w, Element::Atomic, |s, w| {
                ids.push(s.add_node(w, "./SCOMO/Download/A"));
                ids.push(s.exec(w, "./SCOMO/Download/A/Operations/Download", Some("c9")));
                ids.push(s.add_chr(w, "./SCOMO/Download/A/PkgURL", "http://x/a"));
            });
        });
        let out = dev.step(&body).sent().out;
        assert_eq!(out.code(atomic), 200);
        let codes: Vec<u32> = ids.iter().map(|&i| out.code(i)).collect();
        assert_eq!(codes, [200, 202, 200]);
        // Handed over after the whole Atomic applied: the executor sees PkgURL.
        assert_eq!(dev.handler.execs.len(), 1);
        assert_eq!(dev.handler.execs[0].1.as_deref(), Some("c9"));
        assert_eq!(
            dev.tree.scomo().download("A").unwrap().pkg_url(),
            Some("http://x/a")
        );
    }
}

#[test]
fn an_exec_the_executor_refuses_at_commit_rolls_the_atomic_back() {
    let (mut dev, mut srv, pkg1) = opened(Encoding::Xml);
    dev.handler.exec_code = StatusCode::IncompleteCommand;
    let before = state(&dev.tree);
    let (mut atomic, mut ids) = (0, Vec::new());
    let body = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        atomic = s.container(w, Element::Atomic, |s, w| {
            ids.push(s.add_node(w, "./SCOMO/Download/A"));
            ids.push(s.exec(w, "./SCOMO/Download/A/Operations/Download", None));
        });
    });
    let out = dev.step(&body).sent().out;
    assert_eq!(out.code(atomic), 507);
    assert_eq!((out.code(ids[0]), out.code(ids[1])), (216, 412));
    assert_eq!(state(&dev.tree), before);
}

#[test]
fn an_atomic_takes_one_exec_and_refuses_get_and_nesting() {
    for enc in ENCODINGS {
        let (mut dev, mut srv, pkg1) = opened(enc);
        let mut cases = Vec::new();
        let body = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            let (mut a, mut b) = (0, 0);
            let atomic = s.container(w, Element::Atomic, |s, w| {
                a = s.exec(
                    w,
                    "./SCOMO/Inventory/Deployed/Comp1/Operations/Deactivate",
                    None,
                );
                b = s.exec(
                    w,
                    "./SCOMO/Inventory/Deployed/Comp2/Operations/Activate",
                    None,
                );
            });
            cases.push((atomic, b, 406));
            let atomic = s.container(w, Element::Atomic, |s, w| {
                b = s.get(w, &["./DevInfo/Mod"]);
            });
            cases.push((atomic, b, 500));
            let atomic = s.container(w, Element::Atomic, |s, w| {
                s.container(w, Element::Atomic, |s, w| {
                    s.add_node(w, "./SCOMO/Download/N");
                });
            });
            cases.push((atomic, atomic + 1, 500));
        });
        let out = dev.step(&body).sent().out;
        for (atomic, failed, code) in cases {
            assert_eq!(out.code(atomic), 507);
            assert_eq!(out.code(failed), code);
        }
        // Nothing was handed to the executor, and no Results went out.
        assert!(dev.handler.execs.is_empty());
        assert!(out.results().is_empty());
        assert!(dev.tree.scomo().download("N").is_none());
    }
}

/// What the hook was shown: the kind, the text, the choices.
type Seen = std::rc::Rc<std::cell::RefCell<Vec<(UiKind, String, Vec<String>)>>>;

/// A hook that answers from a script and records what it was shown.
fn scripted(answers: Vec<UiAnswer>, seen: Seen) -> Box<dyn scomo::dm::session::UiHook> {
    let mut answers = answers.into_iter();
    Box::new(move |p: &UiPrompt<'_>, answer: &mut [u8]| {
        let mut buf = [0u8; 128];
        let text = p.text.to_str(&mut buf).unwrap().to_owned();
        let choices = p
            .choices()
            .map(|c| {
                let mut b = [0u8; 64];
                c.to_str(&mut b).unwrap().to_owned()
            })
            .collect();
        seen.borrow_mut().push((p.kind, text, choices));
        let a = answers.next().unwrap();
        if let UiAnswer::Text(n) = a {
            answer[..n].copy_from_slice(&b"hello world"[..n]);
        }
        a
    })
}

#[test]
fn a_declined_confirmation_is_304_and_skips_the_rest_of_its_sequence_with_215() {
    for enc in ENCODINGS {
        let (mut dev, mut srv, pkg1) = opened(enc);
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        dev.ui = Some(scripted(vec![UiAnswer::No, UiAnswer::Yes], seen.clone()));
        let (mut seq, mut ids, mut after) = (0, Vec::new(), 0);
        let body = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            seq = s.container(w, Element::Sequence, |s, w| {
                ids.push(s.add_node(w, "./SCOMO/Download/A"));
                ids.push(s.alert(w, 1101, &["MAXDT=30", "Install A?"]));
                ids.push(s.exec(w, "./SCOMO/Download/A/Operations/Download", None));
                ids.push(s.add_node(w, "./SCOMO/Download/B"));
            });
            // Outside a Sequence, a declined prompt affects nothing else.
            s.alert(w, 1101, &["", "Reboot later?"]);
            after = s.add_node(w, "./SCOMO/Download/C");
        });
        let out = dev.step(&body).sent().out;
        assert_eq!(out.code(seq), 200);
        let codes: Vec<u32> = ids.iter().map(|&i| out.code(i)).collect();
        assert_eq!(codes, [200, 304, 215, 215]);
        assert_eq!(out.code(after), 200);
        assert!(dev.handler.execs.is_empty());
        assert!(dev.tree.scomo().download("B").is_none());
        assert!(dev.tree.scomo().download("C").is_some());
        let seen = seen.borrow();
        assert_eq!(seen[0].0, UiKind::Confirm);
        assert_eq!(seen[0].1, "Install A?");
    }
}

#[test]
fn ui_alerts_go_through_the_hook_and_carry_the_answers_back() {
    for enc in ENCODINGS {
        let (mut dev, mut srv, pkg1) = opened(enc);
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        dev.ui = Some(scripted(
            vec![
                UiAnswer::Yes,
                UiAnswer::Text(5),
                UiAnswer::Selected(0b101),
                UiAnswer::Cancelled,
                UiAnswer::TimedOut,
            ],
            seen.clone(),
        ));
        let mut ids = Vec::new();
        let body = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            ids.push(s.alert(w, 1100, &["MINDT=5", "Updating & restarting"]));
            ids.push(s.alert(w, 1102, &["MAXLEN=10&IT=A", "Your name?"]));
            ids.push(s.alert(w, 1104, &["", "Pick", "red", "green", "blue"]));
            ids.push(s.alert(w, 1103, &["", "One", "x", "y"]));
            ids.push(s.alert(w, 1101, &["MAXDT=1", "Sure?"]));
        });
        let out = dev.step(&body).sent().out;
        let codes: Vec<u32> = ids.iter().map(|&i| out.code(i)).collect();
        assert_eq!(codes, [200, 200, 200, 214, 408]);
        assert_eq!(out.status(ids[1]).items[0].text(), "hello");
        let picked: Vec<String> = out.status(ids[2]).items.iter().map(ItemD::text).collect();
        assert_eq!(picked, ["1", "3"]);
        let seen = seen.borrow();
        assert_eq!(seen[0].1, "Updating & restarting");
        assert_eq!(seen[2].2, ["red", "green", "blue"]);
    }
}

#[test]
fn prompts_that_return_input_are_refused_inside_an_atomic() {
    let (mut dev, mut srv, pkg1) = opened(Encoding::Wbxml);
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    dev.ui = Some(scripted(vec![UiAnswer::Yes], seen.clone()));
    let (mut atomic, mut ids) = (0, Vec::new());
    let body = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        atomic = s.container(w, Element::Atomic, |s, w| {
            ids.push(s.alert(w, 1101, &["", "OK?"]));
            ids.push(s.alert(w, 1102, &["", "Name?"]));
        });
    });
    let out = dev.step(&body).sent().out;
    assert_eq!(out.code(atomic), 507);
    assert_eq!((out.code(ids[0]), out.code(ids[1])), (216, 406));
    assert_eq!(seen.borrow().len(), 1);
}
