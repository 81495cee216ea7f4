FROM php:8.3-apache
RUN docker-php-ext-install pdo pdo_mysql \
 && a2enmod rewrite headers
COPY --chown=www-data:www-data . /var/www/html/
RUN sed -ri -e 's!/var/www/html!${APACHE_DOCUMENT_ROOT}!g' /etc/apache2/sites-available/*.conf
ENV APACHE_DOCUMENT_ROOT /var/www/html/public
HEALTHCHECK CMD curl --fail http://localhost/ || exit 1
