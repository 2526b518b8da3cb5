/*
 * A compiled "simulation" for the fortran_model example: evaluate Himmelblau's
 * function at one point of the space and write the result to metrics.json.
 *
 *     ./model '{"x":1.5,"y":-0.5}'
 *
 * argv[1] is the point exactly as dhflow renders `{point:json}`: a flat JSON
 * object. Number values are read; string, true/false/null values are skipped
 * (so extra parameters do no harm); "x" and "y" are required.
 *
 * Output, in the current working directory (Balsam runs every job in a
 * directory of its own, and `objective: file("metrics.json", "objective")`
 * reads the file from there):
 *
 *     {"objective": 113.125, "x": 1.5, "y": -0.5}
 *
 * Himmelblau's function f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2 has four
 * minima of value 0, at (3, 2), (-2.805118, 3.131312), (-3.779310, -3.283186)
 * and (3.584428, -1.848126): the workflow minimizes it.
 *
 * Exit status: 0 on success, 2 on a bad argument, 3 when metrics.json cannot
 * be written. Plain C99, no dependencies: `cc -O2 -o model model.c -lm`.
 * (model.f90 is the same program in Fortran; build.sh uses it when gfortran exists.)
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEY 64

static const char *start;  /* argv[1] */
static const char *cursor; /* parse position in it */

static void fail(const char *what)
{
    fprintf(stderr, "model: %s at offset %ld of the point argument: %s\n", what,
            (long)(cursor - start), start);
    exit(2);
}

static void skip_ws(void)
{
    while (*cursor == ' ' || *cursor == '\t' || *cursor == '\n' || *cursor == '\r')
        cursor++;
}

/* A JSON string at the cursor. Its text goes into buf (escapes kept as written,
 * which is enough to compare plain keys); returns 0 on success. */
static int parse_string(char *buf, size_t size)
{
    size_t n = 0;
    if (*cursor != '"')
        return -1;
    cursor++;
    while (*cursor && *cursor != '"') {
        if (*cursor == '\\') { /* keep the escape and the escaped character */
            if (n + 1 < size) buf[n++] = *cursor;
            cursor++;
            if (!*cursor) return -1;
        }
        if (n + 1 < size) buf[n++] = *cursor;
        cursor++;
    }
    if (*cursor != '"')
        return -1;
    cursor++;
    buf[n] = '\0';
    return 0;
}

/* Read the flat object in `json`; store the numbers under "x" and "y". */
static void parse_point(const char *json, double *x, double *y, int *have_x, int *have_y)
{
    char key[MAX_KEY], scratch[MAX_KEY];
    start = cursor = json;
    skip_ws();
    if (*cursor != '{') fail("expected '{'");
    cursor++;
    skip_ws();
    if (*cursor == '}') { cursor++; goto end; }
    for (;;) {
        skip_ws();
        if (parse_string(key, sizeof key) != 0) fail("expected a quoted key");
        skip_ws();
        if (*cursor != ':') fail("expected ':'");
        cursor++;
        skip_ws();
        if (*cursor == '"') {
            if (parse_string(scratch, sizeof scratch) != 0) fail("unterminated string value");
        } else if (strncmp(cursor, "true", 4) == 0) {
            cursor += 4;
        } else if (strncmp(cursor, "false", 5) == 0) {
            cursor += 5;
        } else if (strncmp(cursor, "null", 4) == 0) {
            cursor += 4;
        } else if (*cursor == '-' || isdigit((unsigned char)*cursor)) {
            char *after;
            double v;
            errno = 0;
            v = strtod(cursor, &after);
            if (after == cursor || errno == ERANGE || !isfinite(v)) fail("bad number");
            cursor = after;
            if (strcmp(key, "x") == 0) { *x = v; *have_x = 1; }
            else if (strcmp(key, "y") == 0) { *y = v; *have_y = 1; }
        } else {
            fail("expected a number, a string, true, false or null (nested values are not supported)");
        }
        skip_ws();
        if (*cursor == ',') { cursor++; continue; }
        if (*cursor == '}') { cursor++; break; }
        fail("expected ',' or '}'");
    }
end:
    skip_ws();
    if (*cursor != '\0') fail("trailing characters after the object");
}

int main(int argc, char **argv)
{
    double x = 0.0, y = 0.0, a, b, f;
    int have_x = 0, have_y = 0;
    FILE *out;

    if (argc != 2) {
        fprintf(stderr, "usage: %s '{\"x\":1.5,\"y\":-0.5}'\n", argv[0]);
        return 2;
    }
    parse_point(argv[1], &x, &y, &have_x, &have_y);
    if (!have_x || !have_y) {
        fprintf(stderr, "model: the point needs numbers \"x\" and \"y\": %s\n", argv[1]);
        return 2;
    }

    a = x * x + y - 11.0;
    b = x + y * y - 7.0;
    f = a * a + b * b;

    out = fopen("metrics.json", "w");
    if (!out) {
        perror("model: cannot write metrics.json");
        return 3;
    }
    fprintf(out, "{\"objective\": %.17g, \"x\": %.17g, \"y\": %.17g}\n", f, x, y);
    if (fclose(out) != 0) {
        perror("model: cannot write metrics.json");
        return 3;
    }
    printf("himmelblau(%.6g, %.6g) = %.9g (written to metrics.json)\n", x, y, f);
    return 0;
}
