/*
 * lanyardctl: the operator's tool (SPEC §1). Global options come before the
 * command: lanyardctl [-c FILE] COMMAND [ARGS].
 */
#include "build-config.h"
#include "banned.h"

#include <stdio.h>
#include <string.h>

#include "lanyard/config.h"
#include "lanyard/ctl.h"

static void usage(FILE *fp)
{
    fputs("usage: lanyardctl [-c FILE | --config FILE] COMMAND\n"
          "commands:\n"
          "  migrate [--status]\n"
          "  bootstrap --email E --password-file F [--org NAME]\n"
          "  config check\n"
          "  keygen --alg HS256|RS256|ES256|EdDSA --out FILE\n"
          "  user create --email E --password-file F [--platform-admin]\n"
          "  user disable EMAIL | user enable EMAIL\n"
          "  key create --org O --service-account S [--ttl D] [--resource R]\n"
          "  key revoke KEYID\n"
          "  purge [--dry-run]\n",
          fp);
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
            if (i + 1 == argc) {
                fputs("lanyardctl: -c needs a file\n", stderr);
                return 2;
            }
            config_path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("lanyardctl %s\n", PACKAGE_VERSION);
            return 0;
        } else {
            fprintf(stderr, "lanyardctl: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i == argc) {
        usage(stderr);
        return 2;
    }
    return ly_ctl_run(config_path ? config_path : ly_config_default_path(), argc - i, argv + i);
}
