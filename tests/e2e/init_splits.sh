#!/bin/sh
# syneg init picks and checks its splits: only the named qrels are read (a
# stray qrels file is a warning, not an abort); a test-only BEIR set makes a
# session with just an eval split; qrels naming no known document and an
# empty corpus are errors naming the file, with nothing written; --beir FILE
# says to give the folder; an MS MARCO folder without test evaluates on dev.
. tests/e2e/lib.sh.inc
G=tests/golden/export/data
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$1" "$2"; }

cp -r "$G" "$T/d1" && printf 'q1\td1\t1\n' > "$T/d1/qrels/notes.tsv"   # no header: does not parse
"$SYNEG" init "$T/s1" --beir "$T/d1" >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q "notes.tsv: not loaded (split \"notes\" is not one the session uses, and .*missing header" "$T/err" \
    && ok "a stray qrels file is named in a warning, init goes on" || fail "stray qrels file: rc=$rc" "$(cat "$T/err")"
"$SYNEG" info "$T/s1" --json > "$T/i1.json" 2>/dev/null
[ "$(jget "$T/i1.json" "['qrels'].get('notes', 'none')")" = none ] && ok "the stray file is not a split" || fail "splits: $(cat "$T/i1.json")"
printf 'query-id\tcorpus-id\tscore\nq1\td1\t1\n' > "$T/d1/qrels/extra.tsv"; rm "$T/d1/qrels/notes.tsv"
"$SYNEG" init "$T/s1b" --beir "$T/d1" >/dev/null 2>&1 && "$SYNEG" eval "$T/s1b" --split extra --json >/dev/null 2>"$T/err" \
    && ok "another split that parses stays usable with --split" || fail "other split" "$(cat "$T/err")"

cp -r "$G" "$T/d2" && rm "$T/d2/qrels/train.tsv"
"$SYNEG" init "$T/s2" --beir "$T/d2" >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q "no qrels for the train split 'train'" "$T/err" \
    && ok "test-only set: a session with only an eval split, said so" || fail "test-only: rc=$rc" "$(cat "$T/err")"
"$SYNEG" eval "$T/s2" --json > "$T/e2.json" 2>"$T/err" && [ "$(jget "$T/e2.json" "['judged']")" = 1 ] \
    && ok "eval works on it" || fail "eval on a test-only session" "$(cat "$T/err")"
"$SYNEG" init "$T/s2b" --beir "$T/d2" --train-split train >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "no qrels for split 'train'" "$T/err" && ok "a named train split must exist" || fail "named train split rc=$rc" "$(cat "$T/err")"

cp -r "$G" "$T/d3" && printf 'query-id\tcorpus-id\tscore\nq4\tnosuchdoc\t1\n' > "$T/d3/qrels/test.tsv"
"$SYNEG" init "$T/s3" --beir "$T/d3" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "d3/qrels/test.tsv: no judgement of split 'test'" "$T/err" && grep -q nosuchdoc "$T/err" && [ ! -e "$T/s3" ] \
    && ok "qrels naming no known document: error naming the file, nothing written" || fail "unresolved qrels: rc=$rc" "$(cat "$T/err")"

mkdir -p "$T/d4/qrels" && : > "$T/d4/corpus.jsonl" && cp "$G/queries.jsonl" "$T/d4/" && cp "$G/qrels/test.tsv" "$T/d4/qrels/"
"$SYNEG" init "$T/s4" --beir "$T/d4" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "d4/corpus.jsonl: no documents" "$T/err" && [ ! -e "$T/s4" ] \
    && ok "an empty corpus is an error naming corpus.jsonl" || fail "empty corpus: rc=$rc" "$(cat "$T/err")"

"$SYNEG" init "$T/s5" --beir "$G/corpus.jsonl" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "is a file; --beir takes the data set's folder" "$T/err" && grep -q "e.g. $G\$" "$T/err" \
    && ok "--beir FILE: give the folder (named)" || fail "--beir FILE: rc=$rc" "$(cat "$T/err")"

mkdir "$T/m"
printf '1\tthe first passage\n2\tthe second passage\n' > "$T/m/collection.tsv"
printf 'a\tfirst\n' > "$T/m/queries.train.tsv"; printf 'a 0 1 1\n' > "$T/m/qrels.train.tsv"
printf 'b\tsecond\n' > "$T/m/queries.dev.tsv"; printf 'b 0 2 1\n' > "$T/m/qrels.dev.tsv"
"$SYNEG" init "$T/s6" --msmarco "$T/m" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 0 ] && [ "$(jget "$T/s6/session.json" "['source']['eval_split']")" = dev ] \
    && ok "MS MARCO without a test split evaluates on dev" || fail "msmarco dev: rc=$rc" "$(cat "$T/err")"
done_tests
