/* Helper for cross_check.py (python3-avro against our codec), and a small benchmark.
 *   codec_tool samples DIR      writes DIR/NAME.V.bin: every record type, variants 0 and 1
 *   codec_tool reencode FILE..  per file: "OK <hex of codec_encode(codec_decode(file))>"
 *                               or "ERR <message>"
 *   codec_tool schemas          per known writer schema: file, type, fingerprint, canonical form
 *   codec_tool pcf FILE         the Parsing Canonical Form and fingerprint of any schema file
 *   codec_tool bench N          prints encode/decode figures for N rounds (never fails on time) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/codec.h"
#include "codec/fingerprint.h"
#include "samples.h"

static int read_file(const char *path, buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(out, chunk, n) != ST_OK) rc = -1;
    fclose(f);
    return rc;
}

static int cmd_samples(const char *dir)
{
    for (int t = 1; t < MSG_TYPE_COUNT; t++) {
        for (int v = 0; v < 2; v++) {
            message m;
            sample_message((msg_type)t, v, &m);
            buf b;
            buf_init(&b, 1 << 24);
            status st = codec_encode(&m, &b);
            message_clear(&m);
            if (st != ST_OK) {
                fprintf(stderr, "encode %s: %s\n", msg_type_name((msg_type)t), status_message());
                buf_free(&b);
                return 1;
            }
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.%d.bin", dir, msg_type_name((msg_type)t), v);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(b.data, 1, b.len, f) != b.len) {
                perror(path);
                if (f) fclose(f);
                buf_free(&b);
                return 1;
            }
            fclose(f);
            buf_free(&b);
        }
    }
    return 0;
}

static int cmd_reencode(int n, char **files)
{
    for (int i = 0; i < n; i++) {
        buf in, out;
        buf_init(&in, 1 << 24);
        buf_init(&out, 1 << 24);
        message m;
        if (read_file(files[i], &in) != 0) {
            printf("ERR cannot read %s\n", files[i]);
        } else if (codec_decode(in.data ? in.data : "", in.len, &m) != ST_OK) {
            printf("ERR %s\n", status_message());
        } else {
            status st = codec_encode(&m, &out);
            message_clear(&m);
            if (st != ST_OK) {
                printf("ERR re-encode: %s\n", status_message());
            } else {
                printf("OK ");
                for (size_t j = 0; j < out.len; j++)
                    printf("%02x", (unsigned char)out.data[j]);
                printf("\n");
            }
        }
        buf_free(&in);
        buf_free(&out);
    }
    return 0;
}

static int cmd_schemas(void)
{
    if (codec_init() != ST_OK) {
        fprintf(stderr, "%s\n", status_message());
        return 1;
    }
    for (size_t i = 0; i < codec_schema_count(); i++) {
        const codec_schema_info *s = codec_schema_at(i);
        printf("%s\t%s\t%d\t%016llx\t%s\n", s->file, msg_type_name(s->type), s->current,
               (unsigned long long)s->fingerprint, s->canonical);
    }
    return 0;
}

static int cmd_pcf(const char *path)
{
    buf in, out;
    buf_init(&in, 1 << 20);
    buf_init(&out, 1 << 20);
    int rc = 1;
    if (read_file(path, &in) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
    } else if (codec_pcf_from_json(buf_cstr(&in), in.len, &out) != ST_OK) {
        fprintf(stderr, "%s\n", status_message());
    } else {
        printf("%016llx\t%s\n", (unsigned long long)codec_crc64_avro(out.data, out.len),
               buf_cstr(&out));
        rc = 0;
    }
    buf_free(&in);
    buf_free(&out);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_bench(long rounds)
{
    msg_type types[] = {MSG_MONEY_TRANSFER_COMMAND, MSG_MONEY_CREDITED_EVENT, MSG_COMMAND_SUCCEEDED,
                        MSG_TRANSACTION_HAPPENED_EVENT};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        message m, d;
        sample_message(types[k], 0, &m);
        buf b;
        buf_init(&b, 1 << 20);
        double t0 = now_s();
        for (long i = 0; i < rounds; i++) {
            buf_reset(&b);
            if (codec_encode(&m, &b) != ST_OK) return 1;
        }
        double t1 = now_s();
        for (long i = 0; i < rounds; i++) {
            if (codec_decode(b.data, b.len, &d) != ST_OK) return 1;
            message_clear(&d);
        }
        double t2 = now_s();
        printf("%-28s %4zu bytes  encode %.2f us  decode %.2f us\n", msg_type_name(types[k]), b.len,
               (t1 - t0) / (double)rounds * 1e6, (t2 - t1) / (double)rounds * 1e6);
        buf_free(&b);
        message_clear(&m);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "samples")) return cmd_samples(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "reencode")) return cmd_reencode(argc - 2, argv + 2);
    if (argc == 2 && !strcmp(argv[1], "schemas")) return cmd_schemas();
    if (argc == 3 && !strcmp(argv[1], "pcf")) return cmd_pcf(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "bench")) return cmd_bench(atol(argv[2]));
    fprintf(stderr, "usage: codec_tool samples DIR | reencode FILE... | schemas | pcf FILE | "
                    "bench N\n");
    return 2;
}
