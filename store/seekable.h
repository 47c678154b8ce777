/* SPDX-License-Identifier: MIT */
/*
 * The layout of a sealed segment, seg-N.db.zst (docs/store.md, "Sealed segment layout"): the
 * .db cut into independent zstd frames of SEEK_FRAME_BYTES (the last one shorter), followed
 * by a seek table in a zstd skippable frame, so a reader can decompress only the frames it
 * needs and `zstd -d` still gives the exact .db (decoders skip skippable frames). The table
 * follows the layout of zstd's contrib "seekable format" without per-frame checksums; every
 * data frame carries zstd's own content checksum instead. All integers are little-endian.
 *
 *   frame 0 .. frame n-1                     ordinary zstd frames, back to back from offset 0
 *   u32 SEEK_SKIPPABLE_MAGIC                 skippable frame header
 *   u32 n * SEEK_ENTRY_BYTES + SEEK_FOOTER_BYTES   its payload size
 *   n x { u32 compressed size, u32 decompressed size }
 *   u32 n, u8 descriptor (0: no checksums), u32 SEEK_FOOTER_MAGIC
 *
 * A file without the footer magic at its end is an older single-frame segment.
 */
#ifndef CONNREC_SEEKABLE_H
#define CONNREC_SEEKABLE_H

#define SEEK_FRAME_BYTES     (128u << 10) /* what the writer puts in one frame */
#define SEEK_SKIPPABLE_MAGIC 0x184D2A5Eu
#define SEEK_FOOTER_MAGIC    0x8F92EAB1u
#define SEEK_HEADER_BYTES    8u /* skippable magic + payload size */
#define SEEK_ENTRY_BYTES     8u
#define SEEK_FOOTER_BYTES    9u

#endif /* CONNREC_SEEKABLE_H */
