   FROM    busybox:1.36    as   base  
	RUN	echo	tabs	everywhere
ENV   KEY1=val1     KEY2="val 2"   
RUN echo "continued" \    
    && echo "after trailing spaces"
RUN echo a\\
RUN echo 'single \
quoted continuation'
ONBUILD   ADD   . /app/src
ONBUILD RUN   make -C /app/src
WORKDIR "/path with spaces"
USER  nobody
ARG   EMPTY=
ARG   QUOTED="with \"escapes\""
expose 8080/tcp   9090
LABEL "com.example.vendor"="ACME Incorporated" com.example.label-with-value="foo" version="1.0" \
      description="This text illustrates \
that label-values can span multiple lines."
