FROM alpine
RUN echo start \
    \
    middle \
	\
    end
RUN echo "line with escaped backslash \\" && echo next
RUN echo spaces after slash \   
    continue
# comment before instruction
  # indented comment
RUN echo \
# comment in the middle \
    after-comment

RUN echo trailing-escaped\\\
RUN echo more
ENV K=v \
  # comment between env pairs
  K2=v2
LABEL multi="a \
b \
c"
RUN echo done\
