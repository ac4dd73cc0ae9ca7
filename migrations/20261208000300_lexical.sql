-- The lexical channel: PostgreSQL full-text search over each item's title,
-- description and tags, stemmed with the text-search configuration of the item's
-- language.

-- ISO 639-1 code (a region or script subtag is ignored: 'pt-BR' is Portuguese) ->
-- PostgreSQL's built-in configuration of that language; 'simple' (lower-cased
-- words, no stemming, no stop words) for every other language.
CREATE FUNCTION semrec_ts_config(language text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE split_part(lower(language), '-', 1)
        WHEN 'ar' THEN 'pg_catalog.arabic'
        WHEN 'hy' THEN 'pg_catalog.armenian'
        WHEN 'eu' THEN 'pg_catalog.basque'
        WHEN 'ca' THEN 'pg_catalog.catalan'
        WHEN 'da' THEN 'pg_catalog.danish'
        WHEN 'nl' THEN 'pg_catalog.dutch'
        WHEN 'en' THEN 'pg_catalog.english'
        WHEN 'fi' THEN 'pg_catalog.finnish'
        WHEN 'fr' THEN 'pg_catalog.french'
        WHEN 'de' THEN 'pg_catalog.german'
        WHEN 'el' THEN 'pg_catalog.greek'
        WHEN 'hi' THEN 'pg_catalog.hindi'
        WHEN 'hu' THEN 'pg_catalog.hungarian'
        WHEN 'id' THEN 'pg_catalog.indonesian'
        WHEN 'ga' THEN 'pg_catalog.irish'
        WHEN 'it' THEN 'pg_catalog.italian'
        WHEN 'lt' THEN 'pg_catalog.lithuanian'
        WHEN 'ne' THEN 'pg_catalog.nepali'
        WHEN 'no' THEN 'pg_catalog.norwegian'
        WHEN 'nb' THEN 'pg_catalog.norwegian'
        WHEN 'nn' THEN 'pg_catalog.norwegian'
        WHEN 'pt' THEN 'pg_catalog.portuguese'
        WHEN 'ro' THEN 'pg_catalog.romanian'
        WHEN 'ru' THEN 'pg_catalog.russian'
        WHEN 'sr' THEN 'pg_catalog.serbian'
        WHEN 'es' THEN 'pg_catalog.spanish'
        WHEN 'sv' THEN 'pg_catalog.swedish'
        WHEN 'ta' THEN 'pg_catalog.tamil'
        WHEN 'tr' THEN 'pg_catalog.turkish'
        WHEN 'yi' THEN 'pg_catalog.yiddish'
        ELSE 'pg_catalog.simple'
    END::regconfig
$$;

-- Title (weight A), description (B) and tags (C, each tag one lexeme as stored:
-- tags are lower-case labels, not prose) as one document. Every function in it is
-- immutable, so PostgreSQL inlines it: an SQL function that is not inlined is
-- planned again for each row, which made a 20,000-row insert 10 times slower.
CREATE FUNCTION semrec_lexical_document(language text, title text, description text, tags text[])
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector(semrec_ts_config(language), title), 'A')
        || setweight(to_tsvector(semrec_ts_config(language), description), 'B')
        || setweight(array_to_tsvector(tags), 'C')
$$;

ALTER TABLE items ADD COLUMN lexical tsvector
    GENERATED ALWAYS AS (semrec_lexical_document(language, title, description, tags)) STORED;
CREATE INDEX items_lexical ON items USING gin (lexical);

-- Document frequencies of lexemes (ts_stat over every item), for the inverse
-- document frequency of a history's terms, and the configurations the catalogue
-- uses (a profile's texts are parsed with each, and with 'simple', which matches
-- tags). Recounted by the engine in the
-- background when items were added since (`max_item_id`).
CREATE TABLE lexical_terms (
    lexeme  TEXT PRIMARY KEY,
    items   INT NOT NULL CHECK (items > 0)
);
CREATE TABLE lexical_stats (
    only_row     BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    items        INT NOT NULL CHECK (items >= 0),
    max_item_id  BIGINT NOT NULL,
    configs      TEXT[] NOT NULL,
    refreshed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
