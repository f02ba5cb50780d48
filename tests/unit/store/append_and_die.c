/* Helper of the crash test: appends to a sqlite store from several threads until it is killed,
 * printing "POSITION KEY ORDER" on stdout for every append that was acknowledged.
 * Usage: append_and_die DIR THREADS */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static store *the_store;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void *appender(void *arg)
{
    int id = (int)(intptr_t)arg;
    char key[16], value[48];
    snprintf(key, sizeof key, "w%d", id);
    for (uint32_t order = 0;; order++) {
        snprintf(value, sizeof value, "w%d-%u", id, order);
        store_bytes v = {value, strlen(value)};
        store_appended a;
        status st =
            store_append(the_store, (store_bytes){key, strlen(key)}, order, &v, 1, &a, NULL);
        if (st != ST_OK) {
            fprintf(stderr, "append_and_die: %s\n", status_message());
            exit(1);
        }
        pthread_mutex_lock(&out_mu);
        printf("%llu %s %u\n", (unsigned long long)a.first_position, key, order);
        fflush(stdout);
        pthread_mutex_unlock(&out_mu);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: append_and_die DIR THREADS\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "append_and_die: THREADS must be 1..64\n");
        return 2;
    }
    if (store_open(argv[1], "crash", &the_store) != ST_OK) {
        fprintf(stderr, "append_and_die: %s\n", status_message());
        return 1;
    }
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, appender, (void *)(intptr_t)i);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return 0;
}
