#!/bin/sh
# SIGKILL a labelling process at random points of its life, 100 times, and
# check that no acknowledged label is lost and the journal still opens.  The
# writer prints "ack Q N ACT SEQ" only after the act was fsync'd; after each
# kill the last acknowledged state of every pair must be what the journal
# replays (acts still in flight may or may not be there: they were never
# acknowledged).  Each round waits for a random number (1-50) of acknowledged
# acts before the kill, not a fixed time, so under ASan or load every round
# still kills a writer in the middle of its work (some inside compaction,
# every 29 acts); a round whose writer never reaches its count fails.
. tests/e2e/lib.sh.inc
STRESS=${BUILD:-build}/tools/labelstress
CHECKER=${BUILD:-build}/tools/labelcheck
D=$T/s
mkdir -p "$D"
if [ ! -x "$STRESS" ] || [ ! -x "$CHECKER" ]; then
    fail "test tools missing: build them with make ($STRESS, $CHECKER)"; done_tests; exit 1
fi
rounds=${KILL_ROUNDS:-100}
lost=0; bad_open=0; acked_total=0; short=0
i=0
while [ $i -lt $rounds ]; do
    i=$((i + 1))
    # this round's kill point: after K acknowledged acts (1-50), then 0-2 ms
    set -- $(awk -v s=$i 'BEGIN{srand(s); printf "%d %.4f", 1 + int(rand()*50), rand()*0.002}')
    want=$1; extra=$2
    : > "$T/acks"
    "$STRESS" "$D" $i > "$T/acks" 2>"$T/err" &
    pid=$!
    w=0   # up to 60 s: a writer this slow is a failure, not a pass
    while [ "$(wc -l < "$T/acks")" -lt "$want" ] && kill -0 $pid 2>/dev/null && [ $w -lt 12000 ]; do
        sleep 0.005; w=$((w + 1))
    done
    sleep "$extra"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    if [ "$(wc -l < "$T/acks")" -lt "$want" ]; then
        short=$((short + 1)); echo "round $i: only $(wc -l < "$T/acks") of $want acts acknowledged before the kill: $(cat "$T/err")"
    fi
    if ! "$CHECKER" "$D" > "$T/state" 2>"$T/cerr"; then
        bad_open=$((bad_open + 1)); cat "$T/cerr"; continue
    fi
    # expected: the last ack per pair in this round, applied over the previous state
    n=$(wc -l < "$T/acks"); acked_total=$((acked_total + n))
    # every acknowledged act's seq must be <= the replayed seq
    lastseq=$(tail -n 1 "$T/acks" | awk '{print $5}')
    gotseq=$(awk '$1=="seq"{print $2}' "$T/state")
    if [ -n "$lastseq" ] && [ "$gotseq" -lt "$lastseq" ]; then
        lost=$((lost + 1)); echo "round $i: acknowledged seq $lastseq, replayed only $gotseq"
    fi
    # and each acknowledged pair's final acknowledged act must match, unless a later
    # unacknowledged act (seq > lastseq) touched that pair
    awk '
      FNR==NR { if ($1=="ack") { k=$2" "$3; want[k]=($4==1?1:($4==2?2:0)); } next }
      $1=="seq" || $1=="skipped" { next }
      { have[$1" "$2]=$3 }
      END { for (k in want) if (!(k in have) || have[k]!=want[k]) print k }' "$T/acks" "$T/state" > "$T/diff"
    if [ -s "$T/diff" ] && [ "$gotseq" = "$lastseq" ]; then
        lost=$((lost + 1)); echo "round $i: pairs differ: $(head -3 "$T/diff")"
    fi
done
[ $bad_open -eq 0 ] && ok "journal opens after every one of $rounds kills" || fail "journal failed to open $bad_open times"
[ $lost -eq 0 ] && ok "no acknowledged label lost in $rounds kills ($acked_total acknowledged acts)" || fail "$lost rounds lost acknowledged labels"
[ $short -eq 0 ] && [ $acked_total -ge $rounds ] && ok "every writer was killed mid-work, after its 1-50 acknowledged acts ($acked_total in all)" \
    || fail "$short rounds ended before their acts were acknowledged ($acked_total in all): the test did not exercise the journal"
done_tests
