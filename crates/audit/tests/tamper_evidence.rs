//! A trail written by `Trail` verifies; every kind of tampering is found,
//! at its file and line: an edited field, a deleted line, two swapped
//! lines, a cut (mid-line and whole lines), a file spliced in from another
//! trail, and a rewritten chain without the signing key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use zgate_audit::trail::{
    head_path, public_key_path, record_hash, trail_files, Trail, TrailPolicy,
};
use zgate_audit::verify::{parse_head, read_public_key, verify, Break, Expectations};

const POLICY: TrailPolicy = TrailPolicy {
    max_file_bytes: 3_000,
    checkpoint_every: 5,
};

fn event(i: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("event".into(), 2.into());
    m.insert("event_type".into(), "ACCESS".into());
    m.insert("evt_user_id".into(), format!("USER{}", i % 3).into());
    m.insert("res_name".into(), format!("APIML.SERVICES.S{i}").into());
    m.insert(
        "time_written".into(),
        format!("2026-12-05T10:00:{:02}.000Z", i % 60).into(),
    );
    m
}

/// A trail of `n` events in `root/trail`, key in `root/keys`.
fn write_trail(root: &Path, n: u64) -> (PathBuf, PathBuf) {
    let dir = root.join("trail");
    let key = root.join("keys").join("audit.key");
    let mut trail = Trail::open(&dir, &key, POLICY).unwrap();
    for i in 0..n {
        trail.append(event(i)).unwrap();
    }
    drop(trail);
    (dir, key)
}

fn expectations(key: &Path) -> Expectations {
    Expectations {
        public_key: Some(read_public_key(&public_key_path(key)).unwrap()),
        head: parse_head(&std::fs::read_to_string(head_path(key)).unwrap()),
    }
}

fn check(dir: &Path, key: &Path) -> Result<zgate_audit::verify::Verified, Break> {
    verify(&trail_files(dir).unwrap(), &expectations(key))
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

fn fresh(n: u64) -> (tempfile::TempDir, PathBuf, PathBuf, Vec<PathBuf>) {
    let root = tempfile::tempdir().unwrap();
    let (dir, key) = write_trail(root.path(), n);
    let files = trail_files(&dir).unwrap();
    (root, dir, key, files)
}

#[test]
fn an_untouched_trail_verifies_across_files_and_restarts() {
    let (root, dir, key, files) = fresh(60);
    assert!(files.len() >= 3, "the trail rotated: {files:?}");
    let v = check(&dir, &key).unwrap();
    assert!(v.checkpoints >= 12, "{v:?}");
    // A restart continues the chain in a new file.
    let mut trail = Trail::open(&dir, &key, POLICY).unwrap();
    trail.append(event(99)).unwrap();
    drop(trail);
    let v2 = check(&dir, &key).unwrap();
    assert_eq!(v2.files, v.files + 1);
    assert!(v2.last_seq > v.last_seq);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in trail_files(&dir)
            .unwrap()
            .iter()
            .chain([key.clone(), head_path(&key)].iter())
        {
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
    drop(root);
}

#[test]
fn an_edited_field_is_found_at_its_line() {
    let (_root, dir, key, files) = fresh(40);
    let mut l = lines(&files[1]);
    l[3] = l[3].replace("USER", "ROOT");
    write_lines(&files[1], &l);
    let b = check(&dir, &key).unwrap_err();
    assert_eq!((b.file.clone(), b.line), (files[1].clone(), 4), "{b}");
    assert!(b.what.contains("altered"), "{b}");
}

#[test]
fn a_deleted_line_is_found_where_the_chain_breaks() {
    let (_root, dir, key, files) = fresh(40);
    let mut l = lines(&files[1]);
    l.remove(2);
    write_lines(&files[1], &l);
    let b = check(&dir, &key).unwrap_err();
    assert_eq!((b.file.clone(), b.line), (files[1].clone(), 3), "{b}");
    assert!(b.what.contains("expected seq"), "{b}");
}

#[test]
fn swapped_lines_are_found_at_the_first_of_them() {
    let (_root, dir, key, files) = fresh(40);
    let mut l = lines(&files[0]);
    l.swap(4, 5);
    write_lines(&files[0], &l);
    let b = check(&dir, &key).unwrap_err();
    assert_eq!((b.file.clone(), b.line), (files[0].clone(), 5), "{b}");
}

#[test]
fn a_cut_is_found_mid_line_and_at_the_end() {
    let (_root, dir, key, files) = fresh(40);
    let last = files.last().unwrap();
    let text = std::fs::read_to_string(last).unwrap();
    std::fs::write(last, &text[..text.len() - 10]).unwrap();
    let b = check(&dir, &key).unwrap_err();
    assert_eq!(b.file, *last);
    assert_eq!(b.line, text.lines().count(), "{b}");
    assert!(b.what.contains("cut short"), "{b}");
    // Whole lines off the end: the chain left is whole, the head is not in it.
    let mut l: Vec<String> = text.lines().map(str::to_owned).collect();
    l.pop();
    write_lines(last, &l);
    let b = check(&dir, &key).unwrap_err();
    assert!(b.what.contains("cut from the end"), "{b}");
    // So does a whole file removed from the end.
    std::fs::remove_file(last).unwrap();
    let b = check(&dir, &key).unwrap_err();
    assert!(b.what.contains("cut from the end"), "{b}");
}

#[test]
fn a_file_from_another_trail_is_found_at_its_first_line() {
    let (_root, dir, key, files) = fresh(40);
    let (_other_root, _other_dir, _other_key, other_files) = fresh(40);
    std::fs::copy(&other_files[1], &files[1]).unwrap();
    let b = check(&dir, &key).unwrap_err();
    assert_eq!((b.file.clone(), b.line), (files[1].clone(), 1), "{b}");
    assert!(b.what.contains("prev_hash"), "{b}");
}

#[test]
fn a_rewritten_chain_fails_at_the_next_signature() {
    let (_root, dir, key, files) = fresh(40);
    // Someone who knows the format but not the key edits a record and
    // recomputes every hash after it.
    let mut prev = None;
    let mut first_checkpoint_after = None;
    for (fi, file) in files.iter().enumerate() {
        let mut out = Vec::new();
        for (li, line) in lines(file).iter().enumerate() {
            let mut r: Map<String, Value> = serde_json::from_str(line).unwrap();
            if fi == 0 && li == 2 {
                r.insert("evt_user_id".into(), "NOBODY".into());
            }
            if let Some(p) = &prev {
                r.insert("prev_hash".into(), Value::String(String::clone(p)));
                if r["event_type"] == "CHECKPOINT" {
                    r.insert("signed_hash".into(), Value::String(String::clone(p)));
                    first_checkpoint_after.get_or_insert((file.clone(), li + 1));
                }
            }
            let h = record_hash(r["prev_hash"].as_str().unwrap(), &r).unwrap();
            r.insert("hash".into(), h.clone().into());
            if fi > 0 || li >= 2 {
                prev = Some(h);
            }
            out.push(zgate_audit::canonical::canonical(&Value::Object(r)).unwrap());
        }
        write_lines(file, &out);
    }
    let b = check(&dir, &key).unwrap_err();
    let (file, line) = first_checkpoint_after.unwrap();
    assert_eq!((b.file.clone(), b.line), (file, line), "{b}");
    assert!(b.what.contains("signature"), "{b}");
    // Without the key only the head can tell, and it does.
    let b = verify(
        &trail_files(&dir).unwrap(),
        &Expectations {
            public_key: None,
            head: expectations(&key).head,
        },
    )
    .unwrap_err();
    assert!(b.what.contains("head"), "{b}");
}

#[test]
fn a_trail_with_a_damaged_end_is_not_continued() {
    let (_root, dir, key, files) = fresh(10);
    let last = files.last().unwrap();
    let text = std::fs::read_to_string(last).unwrap();
    std::fs::write(last, &text[..text.len() - 10]).unwrap();
    let err = Trail::open(&dir, &key, POLICY).err().unwrap();
    assert!(err.to_string().contains("zgate audit verify"), "{err}");
}

#[test]
fn a_writer_stopped_halfway_through_a_rotation_does_not_stop_the_next() {
    let (_root, dir, key, files) = fresh(10);
    let newest = files[files.len() - 1].clone();
    let n = zgate_audit::trail::file_number(&newest).unwrap();
    // Stopped after creating the next file, before writing to it.
    let empty = dir.join(format!("audit-{:06}.jsonl", n + 1));
    std::fs::write(&empty, b"").unwrap();
    let mut trail = Trail::open(&dir, &key, POLICY).unwrap();
    trail.append(event(100)).unwrap();
    drop(trail);
    check(&dir, &key).unwrap();
    // Stopped after ROTATE, before the next file existed.
    let last = trail_files(&dir).unwrap().pop().unwrap();
    let mut trail = Trail::open_continuing(&dir, &key, POLICY).unwrap();
    trail.append(event(101)).unwrap();
    drop(trail);
    let mut text = lines(&last);
    // A ROTATE as the last record: the next writer begins the file it names.
    let hdr: serde_json::Value = serde_json::from_str(&text[text.len() - 1]).unwrap();
    let mut r = serde_json::Map::new();
    r.insert("event_type".into(), "ROTATE".into());
    let next = format!(
        "audit-{:06}.jsonl",
        zgate_audit::trail::file_number(&last).unwrap() + 1
    );
    r.insert("next_file".into(), next.clone().into());
    r.insert("v".into(), 1.into());
    let seq = hdr["seq"].as_u64().unwrap() + 1;
    r.insert("seq".into(), seq.into());
    let prev = hdr["hash"].as_str().unwrap().to_owned();
    r.insert("prev_hash".into(), prev.clone().into());
    let h = zgate_audit::trail::record_hash(&prev, &r).unwrap();
    r.insert("hash".into(), h.into());
    text.push(zgate_audit::canonical::canonical(&serde_json::Value::Object(r)).unwrap());
    write_lines(&last, &text);
    let mut trail = Trail::open_continuing(&dir, &key, POLICY).unwrap();
    trail.append(event(102)).unwrap();
    drop(trail);
    assert!(dir.join(&next).exists());
    let v = zgate_audit::verify::verify(
        &trail_files(&dir).unwrap(),
        &zgate_audit::verify::Expectations::default(),
    )
    .unwrap();
    assert!(v.records > 0);
}
