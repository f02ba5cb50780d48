#include "nats_test_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

static const char *server_bin(void)
{
    static char found[512];
    const char *env = getenv("NATS_SERVER_BIN");
    if (env != NULL && env[0] != '\0') return access(env, X_OK) == 0 ? env : NULL;
    const char *path = getenv("PATH");
    if (path != NULL) {
        char *copy = strdup(path), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
            snprintf(found, sizeof found, "%s/nats-server", d);
            if (access(found, X_OK) == 0) {
                free(copy);
                return found;
            }
        }
        free(copy);
    }
    return access("/usr/sbin/nats-server", X_OK) == 0 ? "/usr/sbin/nats-server" : NULL;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* A free port that none of the first `nodes` nodes of `c` (nor this node's client port) was given:
 * the kernel may hand out a port again as soon as its probe socket is closed. */
static int unused_port(const nts_cluster *c, int nodes)
{
    for (;;) {
        int port = free_port();
        bool used = port == c->nodes[nodes].port;
        for (int i = 0; i < nodes && !used; i++)
            used = port == c->nodes[i].port || port == c->nodes[i].cluster_port;
        if (!used || port < 0) return port;
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

char *nts_temp_dir(const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    char templ[512];
    snprintf(templ, sizeof templ, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
    if (mkdtemp(templ) == NULL) return NULL;
    return strdup(templ);
}

static bool write_conf(nts_cluster *c, int i)
{
    nts_node *nd = &c->nodes[i];
    FILE *f = fopen(nd->conf, "w");
    if (f == NULL) return false;
    fprintf(f,
            "server_name: n%d\nlisten: 127.0.0.1:%d\nmax_payload: 2MB\n"
            "jetstream {\n  store_dir: \"%s/js-n%d\"\n  max_memory_store: 64MB\n"
            "  max_file_store: 1GB\n}\n",
            i + 1, nd->port, c->dir, i + 1);
    if (c->n > 1) {
        fprintf(f, "cluster {\n  name: bank\n  listen: 127.0.0.1:%d\n  routes: [\n",
                nd->cluster_port);
        for (int j = 0; j < c->n; j++)
            fprintf(f, "    nats-route://127.0.0.1:%d\n", c->nodes[j].cluster_port);
        fprintf(f, "  ]\n}\n");
    }
    return fclose(f) == 0;
}

static bool spawn(nts_cluster *c, int i)
{
    const char *bin = server_bin();
    if (bin == NULL) {
        fprintf(stderr,
                "nats-server not found (PATH, /usr/sbin, $NATS_SERVER_BIN): install it with "
                "scripts/install-deps.sh (Debian package nats-server)\n");
        return false;
    }
    nts_node *nd = &c->nodes[i];
    snprintf(nd->log, sizeof nd->log, "%s/n%d.log", c->dir, i + 1);
    struct stat st;
    nd->log_from = stat(nd->log, &st) == 0 ? (long)st.st_size : 0;
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        /* The server dies with the test, even when the test crashes or aborts. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) _exit(127);
        FILE *out = freopen(nd->log, "a", stdout);
        FILE *err = freopen(nd->log, "a", stderr);
        (void)out;
        (void)err;
        execl(bin, bin, "-c", nd->conf, (char *)NULL);
        _exit(127);
    }
    nd->pid = pid;
    return true;
}

/* True once the node's log, since its last start, says it listens on its port. */
static bool says_listening(const nts_node *nd)
{
    char want[128];
    snprintf(want, sizeof want, "Listening for client connections on %s", nd->url);
    FILE *f = fopen(nd->log, "r");
    if (f == NULL) return false;
    bool found = false;
    char line[1024];
    if (fseek(f, nd->log_from, SEEK_SET) == 0)
        while (!found && fgets(line, sizeof line, f) != NULL)
            found = strstr(line, want) != NULL;
    fclose(f);
    return found;
}

/* Waits until the node listens on its port: its own log says so. (A connection that succeeds
 * proves nothing: another test's server may hold the port, and ours then exits.) */
static bool wait_listening(nts_node *nd, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (says_listening(nd)) return true;
        int status = 0;
        if (waitpid(nd->pid, &status, WNOHANG) == nd->pid) {
            nd->pid = 0;
            return false;
        }
        sleep_ms(20);
    }
    return false;
}

/* Waits until JetStream answers account info on `url` (a cluster needs its meta leader). */
static bool wait_jetstream(const char *url, int timeout_ms)
{
    char full[128];
    snprintf(full, sizeof full, "nats://%s", url);
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        natsConnection *nc = NULL;
        jsCtx *js = NULL;
        jsAccountInfo *ai = NULL;
        jsErrCode jerr = 0;
        bool ok = natsConnection_ConnectTo(&nc, full) == NATS_OK &&
                  natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
                  js_GetAccountInfo(&ai, js, NULL, &jerr) == NATS_OK;
        jsAccountInfo_Destroy(ai);
        jsCtx_Destroy(js);
        natsConnection_Destroy(nc);
        if (ok) return true;
        sleep_ms(100);
    }
    return false;
}

bool nts_start(nts_cluster *c, int n)
{
    memset(c, 0, sizeof *c);
    if (n < 1 || n > NTS_NODES_MAX) return false;
    c->n = n;
    char *dir = nts_temp_dir("bank-nats");
    if (dir == NULL) return false;
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    free(dir);
    /* A port found free may be taken by another test before the server binds it: then that
     * server exits, and the cluster starts again on other ports. */
    bool listening = false;
    for (int attempt = 0; attempt < 5 && !listening; attempt++) {
        for (int i = 0; i < n; i++)
            nts_stop_node(c, i, true);
        for (int i = 0; i < n; i++)
            c->nodes[i].port = c->nodes[i].cluster_port = 0;
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            nts_node *nd = &c->nodes[i];
            nd->port = unused_port(c, i);
            nd->cluster_port = n > 1 ? unused_port(c, i) : 0;
            snprintf(nd->conf, sizeof nd->conf, "%s/n%d.conf", c->dir, i + 1);
            snprintf(nd->url, sizeof nd->url, "127.0.0.1:%d", nd->port);
            off += (size_t)snprintf(c->servers + off, sizeof c->servers - off, "%s%s", i ? "," : "",
                                    nd->url);
        }
        for (int i = 0; i < n; i++) {
            if (!write_conf(c, i) || !spawn(c, i)) {
                nts_stop(c);
                return false;
            }
        }
        listening = true;
        for (int i = 0; i < n && listening; i++)
            listening = wait_listening(&c->nodes[i], 10000);
    }
    if (!listening) {
        fprintf(stderr, "nats-server did not start (see the logs in %s)\n", c->dir);
        nts_stop(c);
        return false;
    }
    if (!wait_jetstream(c->nodes[0].url, 30000)) {
        fprintf(stderr, "JetStream did not become ready on %s\n", c->nodes[0].url);
        nts_stop(c);
        return false;
    }
    return true;
}

bool nts_start_from_conf(nts_cluster *c, const char *conf_path)
{
    memset(c, 0, sizeof *c);
    c->n = 1;
    FILE *in = fopen(conf_path, "r");
    if (in == NULL) {
        fprintf(stderr, "cannot read %s\n", conf_path);
        return false;
    }
    char *dir = nts_temp_dir("bank-nats");
    if (dir == NULL) {
        fclose(in);
        return false;
    }
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    free(dir);
    nts_node *nd = &c->nodes[0];
    nd->port = free_port();
    snprintf(nd->conf, sizeof nd->conf, "%s/n1.conf", c->dir);
    snprintf(nd->url, sizeof nd->url, "127.0.0.1:%d", nd->port);
    snprintf(c->servers, sizeof c->servers, "%s", nd->url);
    FILE *out = fopen(nd->conf, "w");
    char line[1024];
    while (out != NULL && fgets(line, sizeof line, in) != NULL) {
        const char *p = line + strspn(line, " \t");
        if (strncmp(p, "listen:", 7) == 0)
            fprintf(out, "listen: 127.0.0.1:%d\n", nd->port);
        else if (strncmp(p, "store_dir:", 10) == 0)
            fprintf(out, "  store_dir: \"%s/js\"\n", c->dir);
        else if (strncmp(p, "http:", 5) == 0)
            continue;
        else
            fputs(line, out);
    }
    fclose(in);
    if (out == NULL || fclose(out) != 0 || !spawn(c, 0) || !wait_listening(nd, 10000)) {
        fprintf(stderr, "nats-server did not start from %s (see %s)\n", conf_path, c->dir);
        nts_stop(c);
        return false;
    }
    return true;
}

void nts_stop_node(nts_cluster *c, int i, bool hard)
{
    nts_node *nd = &c->nodes[i];
    if (nd->pid <= 0) return;
    kill(nd->pid, hard ? SIGKILL : SIGTERM);
    int status = 0;
    for (int waited = 0; waited < 10000; waited += 20) {
        if (waitpid(nd->pid, &status, WNOHANG) == nd->pid) {
            nd->pid = 0;
            return;
        }
        sleep_ms(20);
    }
    kill(nd->pid, SIGKILL);
    waitpid(nd->pid, &status, 0);
    nd->pid = 0;
}

/* True when every thread of `pid` is stopped (state T in /proc/PID/task/TID/stat). */
static bool all_threads_stopped(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (d == NULL) return false;
    bool stopped = true;
    for (struct dirent *e; stopped && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        char path[400], line[256];
        if (snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name) >= (int)sizeof path) continue;
        FILE *f = fopen(path, "r");
        if (f == NULL) continue; /* the thread ended */
        const char *end = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
        fclose(f);
        stopped = end != NULL && (end[2] == 'T' || end[2] == 't');
    }
    closedir(d);
    return stopped;
}

void nts_pause_node(nts_cluster *c, int i, bool paused)
{
    nts_node *nd = &c->nodes[i];
    if (nd->pid <= 0) return;
    kill(nd->pid, paused ? SIGSTOP : SIGCONT);
    /* kill returns before the threads stop: one still running could answer what the caller sends
     * next. Wait until every one of them is stopped (at most 5 s). */
    for (int waited = 0; paused && waited < 5000 && !all_threads_stopped(nd->pid); waited++)
        usleep(1000);
}

bool nts_restart_node(nts_cluster *c, int i)
{
    return spawn(c, i) && wait_listening(&c->nodes[i], 10000);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void nts_stop(nts_cluster *c)
{
    for (int i = 0; i < c->n; i++)
        nts_stop_node(c, i, false);
    if (c->dir[0] != '\0' && getenv("NTS_KEEP") == NULL)
        nftw(c->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    c->dir[0] = '\0';
}
