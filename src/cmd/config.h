/* Program configuration from command-line flags and environment variables, for the programs
 * only (their main(), test servers, benchmarks): this is the one place that reads the
 * environment. Libraries take options structs that the program fills from here.
 * Precedence: flag, then environment variable, then the default already in `dest`.
 * Every program gets `--help` (and `-h`) from the same table. */
#ifndef CMD_CONFIG_H
#define CMD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum config_kind {
    CONFIG_STRING, /* dest: const char ** (points into argv or environ; never freed) */
    CONFIG_INT,    /* dest: int64_t *, decimal, range checked against min/max */
    CONFIG_BOOL,   /* dest: bool *; the flag takes no value, the variable is 1/0/true/false */
} config_kind;

typedef struct config_option {
    const char *flag; /* "--data" */
    const char *env;  /* "DATA_PATH", or NULL */
    config_kind kind;
    void *dest;
    const char *metavar; /* "DIR", shown in --help */
    const char *help;    /* one line */
    int64_t min, max;    /* CONFIG_INT only; both 0 means no range check */
} config_option;

typedef enum config_result {
    CONFIG_CONTINUE,   /* parsed; the positional arguments are now argv[1..*n_positional] */
    CONFIG_EXIT_OK,    /* --help was printed to stdout */
    CONFIG_EXIT_USAGE, /* an error and a hint were printed to stderr; exit with status 2 */
} config_result;

/* Parses argv[1..] against `opts`. `usage` is the first line of --help ("bkes [options]"),
 * `about` a paragraph under it. Flags are consumed; the other arguments are moved, in order,
 * to argv[1..*n_positional]. Errors are printed to stderr with a hint. */
config_result config_parse(const char *usage, const char *about, const config_option *opts,
                           size_t n_opts, int argc, char **argv, int *n_positional);

/* Prints the help text of `opts` to stdout. */
void config_print_help(const char *usage, const char *about, const config_option *opts,
                       size_t n_opts);

#endif
