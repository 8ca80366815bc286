// Linux system headers Swift's Glibc module does not bring in: epoll, for the ingress's event loops.
#include <sys/epoll.h>
