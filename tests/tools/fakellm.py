#!/usr/bin/env python3
"""fakellm: a local OpenAI-compatible chat-completions server that injects faults.

Used by tests/unit/test_llm.c, test_synth.c, tests/e2e/synth.sh and the
benchmark.  Standard library only (asyncio); listens on 127.0.0.1.

    python3 tests/tools/fakellm.py --port-file F [--port N] [--latency S]
        [--mix SPEC] [--seed N] [--fn-rate R] [--key KEY]
        [--oracle BEIR_DIR [--accuracy A]]

Endpoints
  POST .../chat/completions   the API (any prefix before /chat/completions)
  GET  /stats                 {"requests": N, "ok": N, "faults": {name: N},
                               "authorized": N, "bad_key": N, "bodies": N}
  GET  /bodies                {"sha256": [...]}: SHA-256 of every distinct request body
                              received since the last reset (syneg's cache keys)
  GET  /counts                {"bodies": {sha256: {"attempts": N, "answered": N}},
                               "prompts": {P: {"attempts": N, "answered": N}}}: per
                              request body and per prompt (P: SHA-256 of the messages'
                              text, whatever the model or parameters); "answered"
                              counts 200 answers with a complete completion (what a
                              paid API bills)
  POST /reset                 zero the counters (and the per-body attempt counts)
  POST /control               {"mix": SPEC, "latency": S, "fn_rate": R, "models": [..]}
  GET  .../models              {"data": [{"id": M}, ...]} from --models A,B (none: [])
/stats also holds "response_format": the last request's response_format (or null).

Directed faults: a request whose messages contain the marker
[[fault:NAME:N]] gets fault NAME on its first N attempts (counted per exact
request body), then a normal answer.  NAME is one of
  429      HTTP 429 with "Retry-After: 1"
  500 503  HTTP 5xx with an error body
  timeout  no answer for 30 s (the client's timeout must fire)
  drop     the connection is closed without an answer
  empty    200 with "choices": []
  length   200, finish_reason "length", the JSON cut in half
  garbage  200 with a body that is not JSON
  prose    200, the JSON answer wrapped in prose (not a fault: always)
  fence    200, the JSON answer in a ```json fence (not a fault: always)
  nonjson  200, an answer with no JSON object in it
  negusage 200, usage with negative token counts (a hostile server)
  floatusage 200, usage counts 1e30 (floats)
  nousage  200, no "usage" at all
  big      200 with a 24 MB body (the client must abort past its cap)
  radate   429 with "Retry-After: <an HTTP date in 2099>"
  ranan    429 with "Retry-After: nan";  rahuge: "Retry-After: 1e30"
  dropreuse  on a reused keep-alive connection: read the request, close
           without answering (libcurl re-sends the POST by itself)
  reasoning  200, content null + reasoning_content, finish_reason "length"
  think    200, a <think>...</think> block (with braces) before the answer
  parts    200, content as an array of {"type":"text","text"} parts
  many     200, an answer with 100,000 negatives
  nested   200, 50,000 '{' of prose before the answer
Random faults: --mix "429:0.1,500:0.05,drop:0.05,timeout:0.01,empty:0.05,
length:0.02,garbage:0.02,fence:0.2,prose:0.1" draws one per attempt (seeded).

Answers: a reflection prompt (mentions "verdict") gets {"verdict","reason"}:
"false_negative" when the judged text contains FALSENEG, or with
probability --fn-rate (seeded by the body).
Oracle (--oracle DIR, a BEIR folder: corpus.jsonl, queries.jsonl, qrels/*.tsv):
a reflection prompt is answered from the qrels instead: the query (the
"Query:" line) and the judged passage ("title\ntext" between <<< >>>) are
looked up, and the verdict is "false_negative" when the pair is judged
relevant (score > 0) in any qrels file, else "negative" -- correct with
probability --accuracy (default 1), flipped otherwise, drawn once per prompt
(seeded by --seed and the query and passage, not the model or the body).
/stats then holds "oracle": {"asked", "relevant", "flipped", "unknown"}.  Otherwise a synthesis answer
{"reasoning","negatives":[{"text","attributes"}]} with as many negatives as
the prompt asks for ("Write N hard negative").
"""
import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import sys

STATE = {
    "requests": 0, "ok": 0, "faults": {}, "authorized": 0, "bad_key": 0,
    "attempts": {}, "mix": [], "latency": 0.0, "fn_rate": 0.0, "seed": 1, "key": None,
    "models": [], "response_format": None,
    "answered": {}, "prompt_attempts": {}, "prompt_answered": {},
    "oracle": None, "accuracy": 1.0, "oracle_stats": {"asked": 0, "relevant": 0, "flipped": 0, "unknown": 0},
}


def load_oracle(d):
    """BEIR folder -> (query text -> ids, passage text -> ids, relevant pairs)."""
    queries, docs, rel = {}, {}, set()
    with open(os.path.join(d, "queries.jsonl")) as f:
        for line in f:
            q = json.loads(line)
            queries.setdefault(q["text"].strip(), []).append(str(q["_id"]))
    with open(os.path.join(d, "corpus.jsonl")) as f:
        for line in f:
            x = json.loads(line)
            title = (x.get("title") or "").strip()
            text = (title + "\n" + x["text"]) if title else x["text"]
            docs.setdefault(text.strip(), []).append(str(x["_id"]))
    qd = os.path.join(d, "qrels")
    for name in sorted(os.listdir(qd)):
        if not name.endswith(".tsv"):
            continue
        with open(os.path.join(qd, name)) as f:
            for i, line in enumerate(f):
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 3 or (i == 0 and not parts[2].lstrip("-").isdigit()):
                    continue
                if int(parts[2]) > 0:
                    rel.add((parts[0], parts[1]))
    return queries, docs, rel


def oracle_verdict(text):
    """True/False from the qrels (flipped with probability 1 - accuracy); None when unknown."""
    queries, docs, rel = STATE["oracle"]
    st = STATE["oracle_stats"]
    st["asked"] += 1
    mq = re.search(r"Query:\s*(.*?)\n\s*\n", text, re.S)
    mn = re.search(r"<<<\s*(.*?)\s*>>>", text, re.S)
    if not mq or not mn:
        st["unknown"] += 1
        return None
    qids, dids = queries.get(mq.group(1).strip()), docs.get(mn.group(1).strip())
    if not qids or not dids:
        st["unknown"] += 1
        return None
    truth = any((q, d) in rel for q in qids for d in dids)
    st["relevant"] += truth
    key = hashlib.sha256(("%s|%s|%s" % (STATE["seed"], mq.group(1).strip(), mn.group(1).strip())).encode()).hexdigest()
    if random.Random(key).random() >= STATE["accuracy"]:
        st["flipped"] += 1
        return not truth
    return truth


def parse_mix(spec):
    out = []
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, p = part.partition(":")
        out.append((name, float(p)))
    return out


def count_fault(name):
    STATE["faults"][name] = STATE["faults"].get(name, 0) + 1


def all_text(body):
    msgs = body.get("messages") or []
    return "\n".join(str(m.get("content", "")) for m in msgs if isinstance(m, dict))


def make_answer(body, text):
    h = int(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12], 16)
    if "verdict" in text and "false_negative" in text:
        m = re.search(r"<<<\s*(.*?)\s*>>>", text, re.S)
        judged = m.group(1) if m else text
        fn = "FALSENEG" in judged or (h % 1000) < STATE["fn_rate"] * 1000
        if STATE["oracle"] is not None:
            o = oracle_verdict(text)
            fn = bool(o)
        if fn:
            return {"verdict": "false_negative", "reason": "the passage states the answer to the query"}
        return {"verdict": "negative", "reason": "related topic, but it does not answer the query"}
    m = re.search(r"Write (\d+) hard negative", text)
    k = int(m.group(1)) if m else 2
    q = re.search(r"Query:\s*(.*)", text)
    query = q.group(1).strip() if q else "the query"
    words = [w for w in re.findall(r"[A-Za-z]+", query) if len(w) > 3][:4] or ["topic"]
    negs = []
    titled = '"title": "<' in text   # the prompt asks for a title (titled collection)
    for i in range(k):
        w = words[(h + i) % len(words)]
        neg = {"text": "A study of %s in %s variant %d, covering setup %d but not the asked result."
                       % (w, " ".join(words), i + 1, (h >> (i % 16)) % 97),
               "attributes": {"variant": i + 1}}
        if titled:
            neg = {"title": "Notes on %s %d" % (w, i + 1), **neg}
        negs.append(neg)
    return {"reasoning": "The query asks about %s; these passages share its terms but not its answer." % query,
            "negatives": negs}


def completion(body, content, finish="stop"):
    ptoks = max(1, len(json.dumps(body.get("messages", []))) // 4)
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish}],
        "usage": {"prompt_tokens": ptoks, "completion_tokens": max(1, len(content) // 4),
                  "total_tokens": ptoks + max(1, len(content) // 4)},
    }


async def respond(writer, status, obj=None, raw=None, headers=()):
    reason = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error",
              503: "Service Unavailable", 404: "Not Found", 400: "Bad Request", 401: "Unauthorized"}.get(status, "X")
    data = raw if raw is not None else json.dumps(obj).encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (status, reason, len(data))
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    writer.write(head.encode() + b"\r\n" + data)
    await writer.drain()


async def handle_chat(writer, headers, raw, nth=1):
    """Returns False when the connection must be dropped.  nth: requests so far on this connection."""
    STATE["requests"] += 1
    auth = headers.get("authorization")
    if auth:
        STATE["authorized"] += 1
        if STATE["key"] and auth != "Bearer " + STATE["key"]:
            STATE["bad_key"] += 1
            await respond(writer, 401, {"error": {"message": "bad key"}})
            return True
    try:
        body = json.loads(raw)
    except ValueError:
        await respond(writer, 400, {"error": {"message": "body is not JSON"}})
        return True
    text = all_text(body)
    STATE["response_format"] = body.get("response_format")
    bkey = hashlib.sha256(raw).hexdigest()
    attempt = STATE["attempts"].get(bkey, 0) + 1
    STATE["attempts"][bkey] = attempt
    pkey = hashlib.sha256(text.encode()).hexdigest()
    STATE["prompt_attempts"][pkey] = STATE["prompt_attempts"].get(pkey, 0) + 1
    fault = None
    for m in re.finditer(r"\[\[fault:([a-z0-9]+):(\d+)\]\]", text):
        if attempt <= int(m.group(2)):
            fault = m.group(1)
            break
    wrap = None
    for w in ("prose", "fence", "nonjson"):
        if "[[fault:%s" % w in text:
            wrap = w
    if fault in ("prose", "fence", "nonjson"):
        fault = None
    if fault is None and STATE["mix"]:
        rnd = random.Random("%s:%s:%d" % (STATE["seed"], bkey, attempt))
        x = rnd.random()
        for name, p in STATE["mix"]:
            if x < p:
                if name in ("prose", "fence"):
                    wrap = name
                else:
                    fault = name
                break
            x -= p
    if STATE["latency"]:
        await asyncio.sleep(STATE["latency"])
    if fault:
        if not (fault == "dropreuse" and nth == 1):
            count_fault(fault)
    if fault == "429":
        await respond(writer, 429, {"error": {"message": "rate limited"}}, headers=[("Retry-After", "1")])
        return True
    if fault in ("500", "503"):
        await respond(writer, int(fault), {"error": {"message": "server error"}})
        return True
    if fault == "timeout":
        await asyncio.sleep(30)
        return False
    if fault == "drop":
        return False
    if fault == "dropreuse":
        if nth > 1:
            return False
        STATE["attempts"][bkey] -= 1   # a fresh connection: not the fault's case, try again on reuse
        fault = None
    if fault in ("radate", "ranan", "rahuge"):
        value = {"radate": "Thu, 01 Jan 2099 00:00:00 GMT", "ranan": "nan", "rahuge": "1e30"}[fault]
        await respond(writer, 429, {"error": {"message": "rate limited"}}, headers=[("Retry-After", value)])
        return True
    if fault == "big":
        await respond(writer, 200, raw=b'{"choices": [{"message": {"content": "' + b"x" * (24 << 20) + b'"}}]}')
        return True
    if fault == "reasoning":
        c = completion(body, "")
        c["choices"][0]["message"] = {"role": "assistant", "content": None,
                                      "reasoning_content": "Let me think about {the query} step by step..."}
        c["choices"][0]["finish_reason"] = "length"
        await respond(writer, 200, c)
        return True
    if fault == "empty":
        c = completion(body, "x")
        c["choices"] = []
        await respond(writer, 200, c)
        return True
    if fault == "garbage":
        await respond(writer, 200, raw=b"<html>502 bad gateway</html>")
        return True
    answer = make_answer(body, text)
    if fault == "many" and "negatives" in answer:
        answer["negatives"] = [{"text": "negative number %d about the topic" % i} for i in range(100000)]
    ans = json.dumps(answer)
    if fault == "length":
        await respond(writer, 200, completion(body, ans[: len(ans) // 2], "length"))
        return True
    if wrap == "fence":
        ans = "```json\n" + ans + "\n```"
    elif wrap == "prose":
        ans = "Sure! Here is the JSON you asked for:\n" + ans + "\nLet me know if you need more."
    elif wrap == "nonjson":
        ans = "I am sorry, I cannot help with that."
    if fault == "nested":
        ans = "{" * 50000 + " and now the answer: " + ans
    elif fault == "think":
        ans = "<think>The user wants {\"negatives\"}; I must not answer it. {{{</think>\n" + ans
    c = completion(body, ans)
    if fault == "parts":
        half = len(ans) // 2
        c["choices"][0]["message"]["content"] = [{"type": "text", "text": ans[:half]},
                                                 {"type": "text", "text": ans[half:]}]
    elif fault == "negusage":
        c["usage"] = {"prompt_tokens": -1000000, "completion_tokens": -1000000, "total_tokens": -2000000}
    elif fault == "floatusage":
        c["usage"] = {"prompt_tokens": 1e30, "completion_tokens": 1e30}
    elif fault == "nousage":
        del c["usage"]
    if fault in ("negusage", "floatusage", "nousage", "many", "nested", "think", "parts"):
        fault = None
    STATE["ok"] += 1
    STATE["answered"][bkey] = STATE["answered"].get(bkey, 0) + 1
    STATE["prompt_answered"][pkey] = STATE["prompt_answered"].get(pkey, 0) + 1
    await respond(writer, 200, c)
    return True


async def client(reader, writer):
    nth = 0
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            parts = line.decode("latin-1").split()
            if len(parts) < 2:
                break
            method, path = parts[0], parts[1]
            headers = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0") or 0)
            raw = await reader.readexactly(n) if n else b""
            if method == "POST" and path.endswith("/chat/completions"):
                nth += 1
                if not await handle_chat(writer, headers, raw, nth):
                    break
            elif method == "GET" and path.endswith("/models") and path != "/stats":
                STATE["requests"] += 1
                await respond(writer, 200, {"object": "list",
                                            "data": [{"id": m, "object": "model"} for m in STATE["models"]]})
            elif method == "GET" and path == "/stats":
                s = {k: STATE[k] for k in ("requests", "ok", "faults", "authorized", "bad_key", "response_format")}
                s["bodies"] = len(STATE["attempts"])
                if STATE["oracle"] is not None:
                    s["oracle"] = STATE["oracle_stats"]
                await respond(writer, 200, s)
            elif method == "GET" and path == "/counts":
                bodies = {k: {"attempts": v, "answered": STATE["answered"].get(k, 0)}
                          for k, v in STATE["attempts"].items()}
                prompts = {k: {"attempts": v, "answered": STATE["prompt_answered"].get(k, 0)}
                           for k, v in STATE["prompt_attempts"].items()}
                await respond(writer, 200, {"bodies": bodies, "prompts": prompts})
            elif method == "GET" and path == "/bodies":
                await respond(writer, 200, {"sha256": sorted(STATE["attempts"].keys())})
            elif method == "POST" and path == "/reset":
                STATE.update(requests=0, ok=0, faults={}, authorized=0, bad_key=0, attempts={}, answered={},
                             prompt_attempts={}, prompt_answered={})
                await respond(writer, 200, {"ok": True})
            elif method == "POST" and path == "/control":
                c = json.loads(raw or b"{}")
                if "mix" in c:
                    STATE["mix"] = parse_mix(c["mix"])
                if "latency" in c:
                    STATE["latency"] = float(c["latency"])
                if "fn_rate" in c:
                    STATE["fn_rate"] = float(c["fn_rate"])
                if "models" in c:
                    STATE["models"] = list(c["models"])
                await respond(writer, 200, {"ok": True})
            else:
                await respond(writer, 404, {"error": {"message": "no such endpoint " + path}})
            if headers.get("connection", "").lower() == "close":
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--mix", default="")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fn-rate", type=float, default=0.0)
    ap.add_argument("--key", default=None, help="require this bearer key (401 otherwise)")
    ap.add_argument("--models", default="", help="model ids that GET /models lists (comma-separated)")
    ap.add_argument("--oracle", default=None, help="BEIR folder: answer reflection prompts from its qrels")
    ap.add_argument("--accuracy", type=float, default=1.0, help="share of oracle verdicts that are right")
    a = ap.parse_args()
    if a.oracle:
        STATE["oracle"] = load_oracle(a.oracle)
        STATE["accuracy"] = a.accuracy
    STATE.update(latency=a.latency, mix=parse_mix(a.mix), seed=a.seed, fn_rate=a.fn_rate, key=a.key,
                 models=[m for m in a.models.split(",") if m])
    server = await asyncio.start_server(client, "127.0.0.1", a.port, backlog=512)
    port = server.sockets[0].getsockname()[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    else:
        print(port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
