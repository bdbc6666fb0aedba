# end-to-end tests (pytest against private MariaDB, lighttpd and Apache)
