liblanyard_a_SOURCES += src/store/users.c src/store/sessions.c src/store/throttle.c
liblanyard_a_SOURCES += src/store/orgs.c src/store/accounts.c src/store/apikeys.c src/store/audit.c src/store/settings.c src/store/gate.c
liblanyard_a_SOURCES += src/store/devices.c
noinst_HEADERS += include/lanyard/devices.h
liblanyard_a_SOURCES += src/store/sso.c
noinst_HEADERS += include/lanyard/sso.h
liblanyard_a_SOURCES += src/store/purge.c
noinst_HEADERS += include/lanyard/purge.h
