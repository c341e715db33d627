-- 001: the warehouse tables (README: "The warehouse: tables and example SQL"). Times are naive TIMESTAMPs in UTC.

CREATE TABLE skills (
    skill       VARCHAR PRIMARY KEY,
    title       VARCHAR NOT NULL,
    position    INTEGER NOT NULL
);

CREATE TABLE tools (
    tool_id        VARCHAR PRIMARY KEY,
    name           VARCHAR NOT NULL,
    skill          VARCHAR NOT NULL,
    github_repo    VARCHAR,
    pypi_packages  VARCHAR[] NOT NULL,
    trackable      BOOLEAN NOT NULL,
    notes          VARCHAR,
    apache_project VARCHAR,
    formerly       VARCHAR[] NOT NULL,
    in_catalog     BOOLEAN NOT NULL,   -- false: the tool left the catalog; its data stays
    updated_at     TIMESTAMP NOT NULL
);

CREATE SEQUENCE run_id_seq START 1;

CREATE TABLE runs (
    run_id        BIGINT PRIMARY KEY DEFAULT nextval('run_id_seq'),
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    source        VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,    -- running | ok | partial | failed | interrupted
    tools_ok      INTEGER NOT NULL DEFAULT 0,
    tools_failed  INTEGER NOT NULL DEFAULT 0,
    requests      INTEGER NOT NULL DEFAULT 0,
    error         VARCHAR,
    rows_written  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE run_errors (
    run_id      BIGINT NOT NULL,
    source      VARCHAR NOT NULL,
    tool_id     VARCHAR,               -- NULL: the error concerns the whole source
    error       VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);

CREATE TABLE repo_snapshots (
    tool_id      VARCHAR NOT NULL,
    repo         VARCHAR NOT NULL,
    observed_at  TIMESTAMP NOT NULL,
    stars        BIGINT,
    forks        BIGINT,
    open_issues  BIGINT,
    watchers     BIGINT,
    archived     BOOLEAN,
    pushed_at    TIMESTAMP,
    PRIMARY KEY (tool_id, repo, observed_at)
);

CREATE TABLE star_history (
    tool_id      VARCHAR NOT NULL,
    repo         VARCHAR NOT NULL,
    week_start   DATE NOT NULL,        -- Sunday 00:00 UTC
    stars_added  BIGINT NOT NULL,      -- may be negative (unstars)
    source       VARCHAR NOT NULL,     -- 'github' (star-history endpoint) | 'snapshot' (derived)
    PRIMARY KEY (tool_id, week_start)
);

CREATE TABLE releases (
    tool_id        VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,   -- github | pypi | apache
    project        VARCHAR NOT NULL,   -- owner/repo, PyPI project or archive project
    version        VARCHAR NOT NULL,
    released_at    TIMESTAMP,
    is_prerelease  BOOLEAN NOT NULL,
    is_yanked      BOOLEAN NOT NULL,
    version_valid  BOOLEAN NOT NULL DEFAULT true,  -- false: not a PEP 440 version
    title          VARCHAR,            -- release name as upstream gives it (untrusted text)
    PRIMARY KEY (tool_id, source, project, version)
);

CREATE TABLE downloads_daily (
    tool_id    VARCHAR NOT NULL,
    package    VARCHAR NOT NULL,
    day        DATE NOT NULL,
    downloads  BIGINT NOT NULL,
    source     VARCHAR NOT NULL       -- pypistats (without mirrors) | clickpy
    -- Unique on (tool_id, package, day, source) by the write rule in store.py (delete the
    -- batch's keys, then insert): no index, so that 18M-row backfills load at millions of rows/s.
);

CREATE TABLE repo_identities (
    tool_id       VARCHAR PRIMARY KEY,
    repo_id       BIGINT NOT NULL,     -- GitHub's stable numeric id
    full_name     VARCHAR NOT NULL,    -- the name the repo answers to now
    catalog_name  VARCHAR NOT NULL,    -- the name the catalog gives
    created_at    TIMESTAMP,
    description   VARCHAR,             -- untrusted upstream text
    updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE http_cache (
    url            VARCHAR PRIMARY KEY,
    etag           VARCHAR,
    last_modified  VARCHAR,
    updated_at     TIMESTAMP NOT NULL
);
