from __future__ import annotations

from pathlib import Path

import pytest

from tracker.catalog import JobTerms, load_catalog
from tracker.errors import CatalogError

DESIGN_SKILL_AREAS = {
    "infrastructure": {"docker", "kubernetes", "helm", "terraform", "vault", "consul"},
    "monitoring": {"prometheus"},
    "logs": {"elasticsearch", "logstash", "beats", "kibana", "opensearch", "splunk"},
    "orchestration": {
        "oozie",
        "airflow",
        "dagster",
        "prefect",
        "luigi",
        "argo-workflows",
        "aws-step-functions",
    },
    "cloud-sdk": {"boto3", "google-cloud", "azure"},
    "mlops": {
        "sagemaker",
        "kubeflow",
        "mlflow",
        "sacred",
        "dvc",
        "tf-serving",
        "vowpal-wabbit",
        "tfx",
        "metaflow",
        "kedro",
        "bentoml",
        "feast",
        "wandb",
    },
}


def test_bundled_catalog_covers_design() -> None:
    catalog = load_catalog()
    assert len(catalog.tools) >= 50
    ids = {t.id: t for t in catalog.tools}
    for skill, expected in DESIGN_SKILL_AREAS.items():
        for tool_id in expected:
            assert ids[tool_id].skill == skill, tool_id
    for untrackable in ("fblearner", "michelangelo", "bighead", "stanford-dawn"):
        tool = ids[untrackable]
        assert not tool.trackable and tool.notes
    assert ids["oozie"].apache == "oozie" and not ids["oozie"].pypi
    assert ids["dbt"].pypi == ("dbt-core", "dbt")  # successor package listed with the old one


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "extra.yaml"
    path.write_text(text)
    return path


def test_override_and_add(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
tools:
  - id: airflow
    notes: overridden
  - id: mytool
    name: My Tool
    skill: orchestration
    github: me/mytool
""",
    )
    catalog = load_catalog([path])
    airflow = catalog.get("airflow")
    assert (
        airflow is not None and airflow.notes == "overridden" and airflow.github == "apache/airflow"
    )
    mine = catalog.get("mytool")
    assert mine is not None and mine.origin == f"{path}:5"


TOOL_A = "tools:\n  - id: a\n"
JOB = TOOL_A + "    job_terms:\n"


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (
            TOOL_A
            + "    name: A\n    skill: mlops\n    pypi: [a]\n  - id: a\n    name: B\n    skill: mlops\n    pypi: [b]\n",
            6,
            "id",
            "duplicate tool id 'a' (first defined at line 2)",
        ),
        (TOOL_A + "    name: A\n    skil: mlops\n", 4, "skil", "unknown key"),
        (
            TOOL_A + "    name: A\n    skill: mlops\n    github: not a repo\n",
            5,
            "github",
            "owner/repo",
        ),
        (
            TOOL_A + "    name: A\n    skill: cooking\n    pypi: [a]\n",
            4,
            "skill",
            "unknown skill 'cooking'",
        ),
        (
            'tools:\n  - id: a\n    name: A\n    skill: mlops\n    pypi: ["bad name!"]\n',
            5,
            "pypi",
            "PyPI project name",
        ),
        (TOOL_A + "    name: [A\n", 4, None, "YAML syntax error"),
        (
            "tools:\n  - id: new\n    name: New\n    skill: mlops\n",
            2,
            "trackable",
            "needs github, pypi or apache",
        ),
        (
            "tools:\n  - id: new\n    name: New\n    skill: mlops\n    trackable: false\n",
            2,
            "notes",
            "reason",
        ),
        (
            "tools:\n  - id: new\n    skill: mlops\n    pypi: [x]\n",
            2,
            "name",
            "missing required key",
        ),
        ("tools:\n  - id: Bad Id\n    name: X\n    skill: mlops\n", 2, "id", "not lowercase"),
        ("tool:\n  - id: x\n", 1, "tool", "unknown top-level key"),
        (TOOL_A + "    trackable: maybe\n", 3, "trackable", "true or false"),
        (
            TOOL_A + "    stackoverflow_tags:\n      - ok\n      - Apache Airflow\n",
            5,
            "stackoverflow_tags",
            "'Apache Airflow' is not a Stack Overflow tag",
        ),
        (
            TOOL_A + "    stackoverflow_tags: [c++, c#, node.js, Bad_Tag]\n",
            3,
            "stackoverflow_tags",
            "'Bad_Tag' is not a Stack Overflow tag",
        ),
        (TOOL_A + "    stackoverflow_tags: [x, x]\n", 3, "stackoverflow_tags", "twice"),
        (TOOL_A + "    stackoverflow_tags: {x: 1}\n", 3, "stackoverflow_tags", "list"),
        (TOOL_A + "    job_terms: 5\n", 3, "job_terms", "list of terms or a mapping"),
        (
            JOB + "      terms: [A]\n      term: [B]\n",
            5,
            "job_terms.term",
            "unknown key (allowed: terms, cased, weak",
        ),
        (
            JOB + "      weak: [Helm]\n      forbid:\n"
            "        - at the helm\n        - at the wheel\n",
            7,
            "job_terms.forbid",
            "'at the wheel' contains none of the tool's terms",
        ),
        (
            JOB + "      terms: [A]\n      window: many\n",
            5,
            "job_terms.window",
            "whole number",
        ),
        (
            JOB + "      terms: [A, [B]]\n",
            4,
            "job_terms.terms",
            "text phrases",
        ),
        (
            JOB + "      terms: [A]\n      tech_context: 1\n",
            5,
            "job_terms.tech_context",
            "true or false",
        ),
        (
            JOB + "      context: [data]\n",
            3,
            "job_terms",
            "at least one of terms",
        ),
        (
            JOB + "      terms: [A]\n      terms: [B]\n",
            5,
            "job_terms.terms",
            "given twice",
        ),
        (TOOL_A + "    job_terms: [A, '<b>']\n", 3, "job_terms.terms", "'<'"),
    ],
)
def test_validation_errors_name_file_line_field(
    tmp_path: Path, text: str, line: int, field: str | None, words: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CatalogError) as err:
        load_catalog([path])
    assert err.value.file == str(path)
    assert err.value.line == line
    assert err.value.field == field
    assert words in str(err.value)
    assert str(err.value).startswith(f"{path}:{line}:")
    assert "\n" not in str(err.value)


def test_new_keys_are_parsed_in_both_forms(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
tools:
  - id: airflow
    stackoverflow_tags: [apache-airflow]
    job_terms:
      terms: [Apache Airflow]
      weak: [Airflow]
      context: [DAGs]
      context_tools: false
      veto: [HVAC]
      forbid: [airflow management]
      window: 8
  - id: mytool
    name: My Tool
    skill: orchestration
    github: me/mytool
    job_terms: [My Tool, mytool]
""",
    )
    catalog = load_catalog([path])
    airflow = catalog.get("airflow")
    assert airflow is not None and airflow.stackoverflow_tags == ("apache-airflow",)
    assert airflow.job_terms == JobTerms(
        terms=("Apache Airflow",),
        weak=("Airflow",),
        context=("DAGs",),
        context_tools=False,
        veto=("HVAC",),
        forbid=("airflow management",),
        window=8,
    )
    mine = catalog.get("mytool")
    assert mine is not None and mine.job_terms == JobTerms(terms=("My Tool", "mytool"))
    assert mine.stackoverflow_tags == ()


def test_bundled_catalog_is_landscape_sized() -> None:
    catalog = load_catalog()
    trackable = [t for t in catalog.tools if t.trackable]
    assert len(trackable) >= 300
    skills = {t.skill for t in trackable}
    assert len(skills) >= 12 and skills == set(catalog.skills)
    for area in (
        "warehouse",
        "ingestion",
        "transformation",
        "data-quality",
        "governance",
        "bi-notebooks",
        "vector-llm",
    ):
        assert sum(1 for t in trackable if t.skill == area) >= 10, area
    # every trackable tool can be found in job posts; one repo is one tool's
    assert [t.id for t in trackable if t.job_terms is None] == []
    repos = [t.github.lower() for t in trackable if t.github]
    assert len(repos) == len(set(repos))
    ids = {t.id: t for t in catalog.tools}
    for tool_id, tags in {
        "airflow": ("apache-airflow",),
        "kubernetes": ("kubernetes",),
        "dbt": ("dbt",),
    }.items():
        assert ids[tool_id].stackoverflow_tags == tags
    assert ids["dbt"].skill == "transformation"  # moved from data-processing; id unchanged
    assert ids["great-expectations"].skill == "data-quality"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="file not found"):
        load_catalog([tmp_path / "nope.yaml"])


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="empty"):
        load_catalog([_write(tmp_path, "")])
