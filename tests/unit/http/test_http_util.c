/* Unit tests of the transport's pure helpers: content negotiation, media types, CORS origin
 * lists, static path mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_util.h"

static void test_accept(void **state)
{
    (void)state;
    assert_int_equal(http_accept_pick(NULL), HTTP_ACCEPT_JSON);
    assert_int_equal(http_accept_pick(""), HTTP_ACCEPT_JSON);
    assert_int_equal(http_accept_pick("application/json"), HTTP_ACCEPT_JSON);
    assert_int_equal(http_accept_pick("*/*"), HTTP_ACCEPT_JSON);
    assert_int_equal(http_accept_pick("application/graphql-response+json"),
                     HTTP_ACCEPT_GQL_RESPONSE);
    assert_int_equal(http_accept_pick("application/graphql-response+json, application/json;q=0.9"),
                     HTTP_ACCEPT_GQL_RESPONSE);
    assert_int_equal(http_accept_pick("application/json, application/graphql-response+json"),
                     HTTP_ACCEPT_JSON);
    assert_int_equal(http_accept_pick("APPLICATION/JSON; charset=utf-8"), HTTP_ACCEPT_JSON);
    assert_int_equal(http_accept_pick("text/html"), HTTP_ACCEPT_NONE);
    assert_int_equal(http_accept_pick("application/json;q=0, text/html"), HTTP_ACCEPT_NONE);
    assert_int_equal(http_accept_pick("text/html, application/*"), HTTP_ACCEPT_JSON);
}

static void test_content_type(void **state)
{
    (void)state;
    assert_true(http_content_type_is_json("application/json"));
    assert_true(http_content_type_is_json("Application/JSON; charset=utf-8"));
    assert_true(http_content_type_is_json("application/json;charset=\"UTF-8\""));
    assert_false(http_content_type_is_json("application/json; charset=latin1"));
    assert_false(http_content_type_is_json("application/jsonx"));
    assert_false(http_content_type_is_json("text/plain"));
    assert_false(http_content_type_is_json("application/x-www-form-urlencoded"));
    assert_false(http_content_type_is_json(NULL));
    assert_false(http_content_type_is_json(""));
}

static void test_origins(void **state)
{
    (void)state;
    http_origins o;
    assert_int_equal(http_origins_parse(NULL, &o), ST_OK);
    assert_int_equal(o.n, 4);
    assert_true(http_origin_allowed(&o, "http://localhost:4200", "127.0.0.1:8888"));
    assert_true(http_origin_allowed(&o, "http://localhost:8181", NULL));
    assert_true(http_origin_allowed(&o, "http://localhost:3449", NULL));
    assert_true(http_origin_allowed(&o, "http://localhost:8888", NULL));
    assert_false(http_origin_allowed(&o, "http://localhost:9999", "127.0.0.1:8888"));
    assert_true(http_origin_allowed(&o, "http://127.0.0.1:8888", "127.0.0.1:8888")); /* same */
    assert_true(http_origin_allowed(&o, "https://bank.example", "bank.example"));
    assert_false(http_origin_allowed(&o, "http://evil.example", "bank.example"));
    assert_true(http_origin_allowed(&o, NULL, "bank.example")); /* not cross-origin */
    http_origins_free(&o);

    assert_int_equal(http_origins_parse(" https://a.example/ , http://b.example:1 ", &o), ST_OK);
    assert_int_equal(o.n, 2);
    assert_true(http_origin_allowed(&o, "https://a.example", NULL));
    assert_true(http_origin_allowed(&o, "http://b.example:1", NULL));
    assert_false(http_origin_allowed(&o, "http://localhost:4200", NULL));
    http_origins_free(&o);

    assert_int_equal(http_origins_parse("*", &o), ST_OK);
    assert_true(http_origin_allowed(&o, "http://anything", NULL));
    http_origins_free(&o);
}

static void test_static_path(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(http_static_path("/srv/www/", "/index.html", out, sizeof(out)), ST_OK);
    assert_string_equal(out, "/srv/www/index.html");
    assert_int_equal(http_static_path("/srv/www", "/a/b.js", out, sizeof(out)), ST_OK);
    assert_string_equal(out, "/srv/www/a/b.js");
    assert_int_equal(http_static_path("/srv/www", "/", out, sizeof(out)), ST_OK);
    assert_int_equal(http_static_path("/srv", "/../etc/passwd", out, sizeof(out)), ST_INVALID);
    assert_int_equal(http_static_path("/srv", "/a/..", out, sizeof(out)), ST_INVALID);
    assert_int_equal(http_static_path("/srv", "/a/./b", out, sizeof(out)), ST_INVALID);
    assert_int_equal(http_static_path("/srv", "//etc/passwd", out, sizeof(out)), ST_INVALID);
    assert_int_equal(http_static_path("/srv", "/a\\..\\b", out, sizeof(out)), ST_INVALID);
    assert_int_equal(http_static_path("/srv", "/a\nb", out, sizeof(out)), ST_INVALID);
    assert_int_equal(http_static_path("/srv", "relative", out, sizeof(out)), ST_INVALID);
    assert_int_equal(http_static_path("/srv", "/..hidden", out, sizeof(out)), ST_OK);
    char tiny[8];
    assert_int_equal(http_static_path("/srv", "/long-name.html", tiny, sizeof(tiny)), ST_LIMIT);
}

static void test_mime_and_extension(void **state)
{
    (void)state;
    assert_string_equal(http_mime_type("/x/index.html"), "text/html; charset=utf-8");
    assert_string_equal(http_mime_type("/app.JS"), "text/javascript; charset=utf-8");
    assert_string_equal(http_mime_type("/a.css"), "text/css; charset=utf-8");
    assert_string_equal(http_mime_type("/a.svg"), "image/svg+xml");
    assert_string_equal(http_mime_type("/a.dir/file"), "application/octet-stream");
    assert_string_equal(http_mime_type("/noext"), "application/octet-stream");
    assert_true(http_path_has_extension("/assets/app.js"));
    assert_false(http_path_has_extension("/client"));
    assert_false(http_path_has_extension("/v1.2/client"));
}

static void test_accept_encoding(void **state)
{
    (void)state;
    assert_false(http_accepts_encoding(NULL, "br"));
    assert_false(http_accepts_encoding("", "br"));
    assert_true(http_accepts_encoding("gzip, deflate, br", "br"));
    assert_true(http_accepts_encoding("gzip, deflate, br", "gzip"));
    assert_true(http_accepts_encoding("GZIP;q=0.5", "gzip"));
    assert_false(http_accepts_encoding("br;q=0, gzip", "br"));
    assert_false(http_accepts_encoding("identity", "gzip"));
    assert_true(http_accepts_encoding("*", "br"));
    assert_false(http_accepts_encoding("*, br;q=0", "br"));
    assert_false(http_accepts_encoding("*;q=0", "gzip"));
    assert_false(http_accepts_encoding("x-gzip", "gzip"));
}

static void test_immutable_assets(void **state)
{
    (void)state;
    assert_true(http_path_is_immutable("/assets/index-vSdEJrLD.js"));
    assert_true(http_path_is_immutable("/assets/index-BY-8_CHX.css"));
    assert_true(http_path_is_immutable("/assets/materialdesignicons-webfont-Dp5v-WZN.woff2"));
    assert_true(http_path_is_immutable("/assets/index-vSdEJrLD.js.map"));
    assert_false(http_path_is_immutable("/assets/app.js"));
    assert_false(http_path_is_immutable("/assets/index-vSdEJr.js"));
    assert_false(http_path_is_immutable("/assets/index-vSdEJ.LD.js"));
    assert_false(http_path_is_immutable("/assets/index-vSdEJrLD"));
    assert_false(http_path_is_immutable("/index.html"));
    assert_false(http_path_is_immutable("/img/logo-vSdEJrLD.svg"));
    assert_false(http_path_is_immutable("/assets/-vSdEJrLD.js"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_origins),
        cmocka_unit_test(test_static_path),
        cmocka_unit_test(test_mime_and_extension),
        cmocka_unit_test(test_accept_encoding),
        cmocka_unit_test(test_immutable_assets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
