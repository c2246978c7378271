/* sv-static: linked with -static, so it has no PT_INTERP: the shim's binary check must say
 * that LD_PRELOAD cannot reach it. */
#include <unistd.h>

int main(void) {
        return write(1, "static\n", 7) == 7 ? 0 : 1;
}
