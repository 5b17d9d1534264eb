/* Fuzz the LLM answer path: a chat-completion body as the client parses it,
 * the answer and verdict parsers (one-pass object finder) on its content and
 * on the raw bytes, Retry-After values and URL redaction. */
#include "fuzz.h"
#include "llm.h"
#include "synth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char why[300], *content = NULL;
    const char *texts[2] = {s, NULL};
    if (llm_parse_response(s, size, &content, why, sizeof why) == 0) texts[1] = content;
    for (int i = 0; i < 2 && texts[i]; i++) {
        synth_answer a;
        if (synth_parse_answer(texts[i], &a, why, sizeof why) == 0) synth_answer_free(&a);
        int fn;
        char *reason = NULL;
        if (synth_parse_verdict(texts[i], &fn, &reason, why, sizeof why) == 0) free(reason);
    }
    char line[128];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(s, "\r\n"), s);
    long ms = llm_parse_retry_after(line);
    if (ms < -1 || ms > 86400L * 1000) abort();
    char out[512];
    sy_url_redact(s, out, sizeof out);
    free(content);
    free(s);
    return 0;
}
