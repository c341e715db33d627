-- 003: demand signals per tool and calendar month (issue 16).
--   source    'hn' (Hacker News "Ask HN: Who is hiring?" threads) | 'stackoverflow'
--   month     first day of the month (UTC)
--   mentions  hn: top-level job posts naming the tool; stackoverflow: questions tagged with one of
--             the tool's tags, summed over its tags (a question with two of them counts twice)
--   total     hn: the thread's top-level job posts (deleted/dead ones not counted);
--             stackoverflow: every question asked on the site that month
-- Written by upsert on the key: re-collecting a month overwrites it, never duplicates it.
CREATE TABLE demand_monthly (
    tool_id   VARCHAR NOT NULL,
    source    VARCHAR NOT NULL,
    month     DATE NOT NULL,
    mentions  BIGINT NOT NULL,
    total     BIGINT NOT NULL,
    PRIMARY KEY (tool_id, source, month)
);
