liblanyard_a_SOURCES += src/http/request.c src/http/response.c src/http/router.c \
	src/http/fcgi.c src/http/pagetoken.c src/http/client.c
