"""The manual holds to the code: every alarm has its runbook section and names it, the README stays a front page,
and every command the getting-started page shows is one the project has (a make target that resolves, stockctl
arguments its parser takes). `make docs` (in `make lint`) builds the site strictly: broken links fail there."""

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from local_aws.template import load_template
from stockctl.__main__ import build_parser

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"


def alarms():
    return {
        lid: r["Properties"] for lid, r in load_template()["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_every_alarm_has_a_runbook_section_and_its_description_names_it():
    runbook = (DOCS / "runbook.md").read_text()
    sections = set(re.findall(r"^## (\w+Alarm)$", runbook, flags=re.MULTILINE))
    assert sections == set(alarms())
    for lid, alarm in alarms().items():
        assert alarm["AlarmDescription"].endswith(f"Runbook: docs/runbook.md#{lid.lower()}"), lid
        assert len(alarm["AlarmDescription"]) <= 1024  # CloudWatch's limit
        section = runbook.split(f"## {lid}\n", 1)[1].split("\n## ", 1)[0]
        assert "**Means.**" in section and "**Do.**" in section, lid


def test_the_readme_is_a_front_page_that_links_the_site():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in ("getting-started.md", "deploy.md", "runbook.md", "local-stack.md"):
        assert f"](docs/{page})" in readme


def commands(page: str) -> list[str]:
    text = (DOCS / page).read_text()
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip().removesuffix("&").strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


@pytest.mark.parametrize("command", commands("getting-started.md"))
def test_every_command_of_the_getting_started_page_is_one_the_project_has(command):
    words = shlex.split(command)
    assert words[0] == "make", f"a command the test does not know how to check: {command}"
    target = words[1]
    assert target in make_targets()
    # make resolves the target and its prerequisites (a dry run: nothing is executed)
    dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    arguments = [w.split("=", 1)[1] for w in words[2:] if w.startswith("ARGS=")]
    if target in ("smoke", "validate", "forecast", "redrive") and arguments:
        build_parser().parse_args([target, *shlex.split(arguments[0])])  # exits 2 on an option it does not take


def test_the_getting_started_page_has_the_two_commands_and_the_three_deploy_steps():
    shown = commands("getting-started.md")
    assert shown[:2] == ["make demo", "make test"]
    assert "make deploy" in shown and any(c.startswith("make smoke") for c in shown)
