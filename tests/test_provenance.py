import subprocess

from dhflow.runtime.provenance import provenance


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": "/usr/bin:/bin"})


def test_outside_git(tmp_path):
    f = tmp_path / "x.dhflow"
    f.write_text("workflow w:\n")
    rec = provenance({"source": {"path": str(f), "sha256": "abc"}})
    assert rec["spec_sha256"] == "abc" and rec["git_commit"] is None and rec["dhflow_version"]
    assert rec["submitted_at"].endswith("+00:00")


def test_in_git_clean_then_dirty(tmp_path):
    _git(tmp_path, "init", "-q")
    f = tmp_path / "x.dhflow"
    f.write_text("workflow w:\n")
    _git(tmp_path, "add", "x.dhflow")
    _git(tmp_path, "commit", "-qm", "first")
    rec = provenance({"source": {"path": str(f), "sha256": "abc"}})
    assert len(rec["git_commit"]) == 40 and rec["git_dirty"] is False and rec["spec_committed"] is True
    f.write_text("workflow w2:\n")
    rec = provenance({"source": {"path": str(f), "sha256": "abc"}})
    assert rec["git_dirty"] is True and rec["spec_committed"] is False
