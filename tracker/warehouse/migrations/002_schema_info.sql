-- 002: key/value facts about the file itself (e.g. the hash of the views it was given), so that
-- a newer tracker recreates changed views even when no table changed.
CREATE TABLE schema_info (
    key    VARCHAR PRIMARY KEY,
    value  VARCHAR NOT NULL
);
