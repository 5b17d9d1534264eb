/* negseg: the negatives segment file format, shared by the writer
 * (negwrite.c) and the reader (negstore.c) of the negstore module; private to
 * them.
 *
 * Segment file, little-endian:
 *   0  "SYNEGSEG"           8 bytes magic
 *   8  u32 version (2; 1 is read)  12 u32 flags (NEG_REPLACE)
 *   16 u64 nrows            24 u64 blob_len        32 u64 created (unix ns)
 *   40 24 bytes reserved (0)
 *   64 rows, 32 bytes each: u32 query_off, u32 neg_off, u32 text_off, u32 prov_off,
 *      u32 rank, f32 score, u8 source, u8 flags, u16 0, f32 fnl
 *      (version 1 wrote u32 0 where fnl is: "not computed", the same as 0 now)
 *   then blob_len bytes of NUL-terminated strings (offset 0 is "", meaning none)
 *   then u64 sy_hash64 of everything before it.
 * Files are named <created, 16 hex>-<pid>-<tag>.seg: name order = commit order. */
#ifndef SY_NEGSEG_H
#define SY_NEGSEG_H

#include <stdint.h>

#include "negstore.h"

#define SEG_MAGIC "SYNEGSEG"
#define SEG_VERSION 2      /* written; 1 and 2 are read */
#define SEG_VERSION_MIN 1
#define HDR 64
#define ROW 32

/* Name and order the next commit by this time (unix ns) instead of now:
 * compaction takes the place of the newest segment it merges. */
void neg_writer_set_time(neg_writer *w, uint64_t at);

#endif
