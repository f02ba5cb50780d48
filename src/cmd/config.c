#include "cmd/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool parse_int(const char *text, const config_option *o, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end) return false;
    if ((o->min || o->max) && (v < o->min || v > o->max)) return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *text, bool *out)
{
    if (!strcmp(text, "1") || !strcasecmp(text, "true") || !strcasecmp(text, "yes")) {
        *out = true;
        return true;
    }
    if (!strcmp(text, "0") || !strcasecmp(text, "false") || !strcasecmp(text, "no")) {
        *out = false;
        return true;
    }
    return false;
}

static bool assign(const config_option *o, const char *value, const char *source)
{
    switch (o->kind) {
    case CONFIG_STRING:
        *(const char **)o->dest = value;
        return true;
    case CONFIG_INT:
        if (parse_int(value, o, (int64_t *)o->dest)) return true;
        if (o->min || o->max)
            fprintf(stderr, "error: %s must be a whole number from %lld to %lld, not '%s'\n",
                    source, (long long)o->min, (long long)o->max, value);
        else
            fprintf(stderr, "error: %s must be a whole number, not '%s'\n", source, value);
        return false;
    case CONFIG_BOOL:
        if (parse_bool(value, (bool *)o->dest)) return true;
        fprintf(stderr, "error: %s must be true or false, not '%s'\n", source, value);
        return false;
    }
    return false;
}

void config_print_help(const char *usage, const char *about, const config_option *opts,
                       size_t n_opts)
{
    printf("usage: %s\n\n%s\n\noptions:\n", usage, about);
    for (size_t i = 0; i < n_opts; i++) {
        const config_option *o = &opts[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->flag, o->kind == CONFIG_BOOL ? "" : " ",
                 o->kind == CONFIG_BOOL ? "" : (o->metavar ? o->metavar : "VALUE"));
        printf("  %-24s %s", left, o->help);
        if (o->env) printf(" [env %s]", o->env);
        if (o->kind == CONFIG_STRING && *(const char **)o->dest)
            printf(" (default %s)", *(const char **)o->dest);
        else if (o->kind == CONFIG_INT)
            printf(" (default %lld)", (long long)*(int64_t *)o->dest);
        printf("\n");
    }
    printf("  %-24s %s\n", "-h, --help", "show this help and exit");
}

static const config_option *find_flag(const config_option *opts, size_t n, const char *arg,
                                      size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].flag) == len && !strncmp(opts[i].flag, arg, len)) return &opts[i];
    return NULL;
}

config_result config_parse(const char *usage, const char *about, const config_option *opts,
                           size_t n_opts, int argc, char **argv, int *n_positional)
{
    for (size_t i = 0; i < n_opts; i++) {
        const char *env = opts[i].env ? getenv(opts[i].env) : NULL;
        if (env && *env && !assign(&opts[i], env, opts[i].env)) return CONFIG_EXIT_USAGE;
    }
    /* Positional arguments are written back to argv[1..]; the write index never passes the read
     * one. */
    int n_pos = 0;
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (only_positional || strncmp(arg, "-", 1) != 0 || !strcmp(arg, "-")) {
            argv[1 + n_pos++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_positional = true;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            config_print_help(usage, about, opts, n_opts);
            return CONFIG_EXIT_OK;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const config_option *o = find_flag(opts, n_opts, arg, len);
        if (!o) {
            fprintf(stderr, "error: unknown option '%.*s'\ntry '--help' for the options\n",
                    (int)len, arg);
            return CONFIG_EXIT_USAGE;
        }
        if (o->kind == CONFIG_BOOL && !eq) {
            *(bool *)o->dest = true;
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) {
            fprintf(stderr, "error: option %s needs a value\n", o->flag);
            return CONFIG_EXIT_USAGE;
        }
        if (!assign(o, value, o->flag)) return CONFIG_EXIT_USAGE;
    }
    *n_positional = n_pos;
    return CONFIG_CONTINUE;
}
