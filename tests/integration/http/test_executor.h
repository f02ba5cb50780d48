/* A small GraphQL executor for transport tests only (not the engine): see test_executor.c. */
#ifndef TESTS_HTTP_TEST_EXECUTOR_H
#define TESTS_HTTP_TEST_EXECUTOR_H

#include "http/http_server.h"

typedef struct test_executor test_executor;

/* A new executor (NULL on allocation failure); free with test_executor_free. */
test_executor *test_executor_new(void);

/* Fills `out` with the executor interface bound to `te`. */
void test_executor_interface(test_executor *te, http_executor *out);

/* Starts the ticker thread that drives timed subscriptions through http_post. */
status test_executor_start(test_executor *te, http_server *srv);

/* Stops the ticker and waits for the threads of pending `slow` queries. */
void test_executor_stop(test_executor *te);

/* Frees the executor (after http_server_free). */
void test_executor_free(test_executor *te);

#endif
