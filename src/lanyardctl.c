/* placeholder main; replaced by the worker main */
#include "build-config.h"
int main(void)
{
    return 0;
}
