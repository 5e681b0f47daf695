//! The store's file (docs/durability.md, "The store"): which file a command uses when none is given, and
//! damage that appears in it after it was opened.

use std::io::{Seek, SeekFrom, Write};

use crate::{command, text};

/// `weft run` of a support ticket as instance `id`, with `env`, and `WEFT_STORE` unset: where the store
/// is then is the test's question.
fn run_without_a_store(id: &str, env: &[(&str, &str)], unset: &[&str]) -> std::process::Output {
    let mut run = command(std::path::Path::new("unused"), &crate::new_ticket(id), env);
    run.env_remove("WEFT_STORE");
    for name in unset {
        run.env_remove(name);
    }
    run.output().unwrap()
}

/// Without `--store` or `$WEFT_STORE`, the store is `$XDG_DATA_HOME/weft/weft.db` (an empty or relative
/// `XDG_DATA_HOME` counts as unset, as the XDG Base Directory specification says), else
/// `~/.local/share/weft/weft.db`; the folders are made when missing.
#[test]
fn without_a_store_given_the_user_s_data_directory_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let (xdg, home) = (dir.path().join("xdg"), dir.path().join("home"));
    let (xdg_text, home_text) = (xdg.to_string_lossy().into_owned(), home.to_string_lossy().into_owned());
    let in_xdg = xdg.join("weft/weft.db");
    let in_home = home.join(".local/share/weft/weft.db");
    let list = |file: &std::path::Path| {
        let out = command(file, &["list", "--json"], &[]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].clone())
            .collect::<Vec<_>>()
    };

    let out = run_without_a_store("x-1", &[("XDG_DATA_HOME", &xdg_text), ("HOME", &home_text)], &[]);
    assert!(text(&out.stderr).contains("waiting"), "{}", text(&out.stderr));
    assert_eq!(list(&in_xdg), ["x-1"]);
    assert!(!in_home.exists());

    for (n, xdg_value) in [(2, None), (3, Some("")), (4, Some("relative/data"))] {
        let id = format!("x-{n}");
        let out = match xdg_value {
            None => run_without_a_store(&id, &[("HOME", &home_text)], &["XDG_DATA_HOME"]),
            Some(value) => run_without_a_store(&id, &[("XDG_DATA_HOME", value), ("HOME", &home_text)], &[]),
        };
        assert!(text(&out.stderr).contains("waiting"), "{xdg_value:?}: {}", text(&out.stderr));
    }
    assert_eq!(list(&in_home), ["x-4", "x-3", "x-2"], "newest first");
    assert!(!crate::root().join("relative").exists(), "a relative XDG_DATA_HOME is not used");
    assert_eq!(list(&in_xdg), ["x-1"]);

    let out = run_without_a_store("x-5", &[], &["XDG_DATA_HOME", "HOME"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no store: give --store PATH or set WEFT_STORE"), "{}", text(&out.stderr));
}

/// Damage that appears after a store was opened, in a page a command reads (here: the root page of the
/// history table, overwritten), is reported by that command as damage, with exit code 2; a command that
/// does not read that page goes on working.
#[test]
fn damage_in_a_page_a_command_reads_is_reported_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let out = crate::weft_in(&store, &crate::new_ticket("d-1"), &[]);
    assert!(text(&out.stderr).contains("waiting"), "{}", text(&out.stderr));
    let (page_size, root): (i64, i64) = {
        let db = rusqlite::Connection::open(&store).unwrap();
        let size = db.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let root = db.query_row("SELECT rootpage FROM sqlite_schema WHERE name = 'history'", [], |r| r.get(0)).unwrap();
        (size, root)
    };
    let mut file = std::fs::File::options().write(true).open(&store).unwrap();
    file.seek(SeekFrom::Start(((root - 1) * page_size) as u64)).unwrap();
    file.write_all(&vec![0xA5; page_size as usize]).unwrap();
    drop(file);

    let history = crate::weft_in(&store, &["history", "d-1"], &[]);
    assert_eq!(history.status.code(), Some(2), "{}", text(&history.stderr));
    assert!(text(&history.stderr).contains("the store is damaged"), "{}", text(&history.stderr));
    let status = crate::weft_in(&store, &["status", "d-1", "--json"], &[]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
}
