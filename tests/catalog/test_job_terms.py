"""Unit tests of the job-post matcher's rules (the corpus test is test_job_matcher.py)."""

from __future__ import annotations

import pytest

from tracker.catalog import JobMatcher, JobTerms, JobTermsError, Tool, html_to_text

RULES = {
    "docker": JobTerms(terms=("Docker",)),
    "docker-compose": JobTerms(terms=("Docker Compose", "docker-compose")),
    "helm": JobTerms(
        terms=("Helm chart", "Helm charts"), weak=("Helm",), forbid=("at the helm", "the helm of")
    ),
    "spark": JobTerms(
        terms=("Apache Spark", "PySpark"), weak=("Spark",), forbid=("Spark Capital",)
    ),
    "dbt": JobTerms(cased=("dbt",), weak_cased=("DBT",), veto=("therapy", "therapist")),
    "kafka": JobTerms(terms=("Apache Kafka",), weak=("Kafka",), forbid=("Franz Kafka",)),
    "postgres": JobTerms(terms=("Postgres",)),
    "ray": JobTerms(weak_cased=("Ray",), context=("distributed",), tech_context=False),
}


@pytest.fixture(scope="module")
def matcher() -> JobMatcher:
    return JobMatcher(RULES)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("We use Docker Compose locally", {"docker-compose"}),
        ("Docker images, run with docker-compose", {"docker", "docker-compose"}),
        ("<p>Sparkling water &amp; a Helmet. Backed by Spark Capital.", set()),
        ("Stack: Python, Spark, Airflow", {"spark"}),
        ("Jane is at the helm of the team; we deploy Helm charts", {"helm"}),
        ("Jane is at the helm of our platform team", set()),
        ("Our DBT therapist program", set()),
        ("We use DBT and Snowflake for our SQL models", {"dbt"}),
        ("We model in dbt", {"dbt"}),
        ("Reading Franz Kafka on weekends", set()),
        ("Go, Kafka, Postgres", {"kafka", "postgres"}),
        ('see <a href="https://spark.apache.org">https://spark.apache.org</a>', set()),
        ('we love <a href="https://spark.apache.org/x">Apache Spark</a>', {"spark"}),
        ("X-Ray imaging, Python", set()),
        ("Spark-based pipelines", {"spark"}),
        ("Ray and Spark jobs on Postgres data", {"ray", "spark", "postgres"}),
        ("Ray tracing in C++", set()),
        ("Ray on a distributed cluster", {"ray"}),
        ("mail jobs@spark.example.com, Python", set()),
        ("Apache&nbsp;Kafka&#x2F;Postgres", {"kafka", "postgres"}),
        ("<i>PySpark</i>", {"spark"}),
    ],
)
def test_rules(matcher: JobMatcher, html: str, expected: set[str]) -> None:
    assert matcher.match(html) == frozenset(expected)


def test_weak_terms_confirm_each_other_through_context_tools() -> None:
    m = JobMatcher(
        {
            "a": JobTerms(weak=("Alpha",), tech_context=False),
            "b": JobTerms(weak=("Beta",), tech_context=False),
            "c": JobTerms(terms=("Gamma",)),
        }
    )
    assert m.match("Alpha, Beta") == frozenset()
    assert m.match("Alpha, Beta, Gamma") == {"a", "b", "c"}
    # far apart: the window is 12 words by default
    far = "Alpha " + "word " * 20 + "Beta, Gamma"
    assert m.match(far) == {"b", "c"}


def test_html_to_text_drops_tags_links_and_decodes() -> None:
    html = (
        'Acme | Data Engineer<p>We use <a href="https://airflow.apache.org" rel="nofollow">'
        "Airflow</a> &amp; dbt&#x2F;Snowflake. Apply: https:&#x2F;&#x2F;acme.example&#x2F;jobs"
    )
    text = html_to_text(html)
    assert "href" not in text and "airflow.apache" not in text and "acme.example" not in text
    assert "Airflow & dbt/Snowflake" in text
    assert "\n" in text


def test_from_tools_uses_trackable_tools_with_job_terms() -> None:
    tools = [
        Tool("a", "A", "x", pypi=("a",), job_terms=JobTerms(terms=("Alpha",))),
        Tool("b", "B", "x", trackable=False, notes="n", job_terms=JobTerms(terms=("Beta",))),
        Tool("c", "C", "x", pypi=("c",)),
    ]
    m = JobMatcher.from_tools(tools)
    assert m.tool_ids == {"a"}
    assert m.match("Alpha Beta C") == {"a"}
    assert JobMatcher.from_tools([]).match("anything") == frozenset()


@pytest.mark.parametrize(
    ("value", "key", "words"),
    [
        ({"term": ["x"]}, "term", "unknown key"),
        ({}, None, "at least one"),
        ({"terms": ["x"], "forbid": ["at the wheel"]}, "forbid", "contains none"),
        ({"weak": ["x"], "context_tools": False, "tech_context": False}, "weak", "need context"),
        ({"terms": ["x"], "window": 0}, "window", "between"),
        ({"terms": ["x"], "window": True}, "window", "whole number"),
        ({"terms": [" x"]}, "terms", "start/end"),
        ({"terms": ["x", "X"]}, "terms", "twice"),
        ({"terms": ["-x"]}, "terms", "letter or digit"),
        ({"terms": [3]}, "terms", "text"),
        ({"terms": ["x"], "context_tools": "yes"}, "context_tools", "true or false"),
        ("x", None, "must be a list"),
    ],
)
def test_job_terms_validation(value: object, key: str | None, words: str) -> None:
    with pytest.raises(JobTermsError) as err:
        JobTerms.from_value(value)
    assert err.value.key == key
    assert words in err.value.reason


def test_job_terms_list_shorthand() -> None:
    assert JobTerms.from_value(["Dagster", "dagster-io"]) == JobTerms(
        terms=("Dagster", "dagster-io")
    )
