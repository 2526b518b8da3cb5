/* Himmelblau's function at (x, y) from the command line; writes metrics.json here.
 * The same program as model.f90, for machines without gfortran. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: model X Y\n");
        return 2;
    }
    double x = strtod(argv[1], NULL), y = strtod(argv[2], NULL);
    double f = (x * x + y - 11) * (x * x + y - 11) + (x + y * y - 7) * (x + y * y - 7);
    FILE *out = fopen("metrics.json", "w");
    if (!out)
        return 3;
    fprintf(out, "{\"objective\": %.17g}\n", f);
    fclose(out);
    printf("f = %.17g\n", f);
    return 0;
}
