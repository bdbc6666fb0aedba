liblanyard_a_SOURCES += src/login/login.c src/login/creds.c
