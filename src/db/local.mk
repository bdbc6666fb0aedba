liblanyard_a_SOURCES += src/db/db.c src/db/migrate.c
nodist_liblanyard_a_SOURCES = src/db/schema_sql.c
BUILT_SOURCES = src/db/schema_sql.c
CLEANFILES += src/db/schema_sql.c
EXTRA_DIST += tools/embed-schema.sh
src/db/schema_sql.c: $(srcdir)/tools/embed-schema.sh $(dist_schema_DATA:%=$(srcdir)/%)
	@$(MKDIR_P) src/db
	$(AM_V_GEN)$(SHELL) $(srcdir)/tools/embed-schema.sh $(dist_schema_DATA:%=$(srcdir)/%) > $@.tmp && mv $@.tmp $@
