/*
 * lanyard-login: the user's command-line client (SPEC §1). Everything but
 * main() is in src/login/.
 */
#include "build-config.h"
#include "banned.h"

#include "lanyard/login.h"

int main(int argc, char **argv)
{
    return ly_login_main(argc, argv);
}
