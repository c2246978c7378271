/* sv-fakego: a dynamically linked C program with the section a Go binary carries
 * (.go.buildinfo), so the shim's binary check can be tested without a Go toolchain. */
__attribute__((used, section(".go.buildinfo"))) static const char buildinfo[32] = "\xff Go buildinf:";

int main(void) {
        return buildinfo[0] == 0;
}
