/*
 * ABI probe: the sizes, field offsets and constant values of the Windows SDK,
 * as the mingw-w64 headers define them, printed as JSON.
 *
 * Built with x86_64-w64-mingw32-gcc and run under Wine by `tools/winenv.py abi`;
 * its output is tests/data/abi_mingw_x64.json, which tests/test_abi.py compares
 * name by name with winsock_ov.raw.  This file is the independent side of that
 * comparison: every name here is spelled from the headers, never from Python.
 */
#define WIN32_NO_STATUS
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#undef WIN32_NO_STATUS
#include <ntstatus.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static int first_in_section;

static void section(const char *name, int is_first)
{
    printf("%s\"%s\": {", is_first ? "{\n" : "\n},\n", name);
    first_in_section = 1;
}

static void key(const char *name)
{
    printf("%s\n \"%s\": ", first_in_section ? "" : ",", name);
    first_in_section = 0;
}

static void size_entry(const char *name, size_t size, size_t align)
{
    key(name);
    printf("[%u, %u]", (unsigned)size, (unsigned)align);
}

static void field_entry(const char *name, size_t offset, size_t size)
{
    key(name);
    printf("[%u, %u]", (unsigned)offset, (unsigned)size);
}

static void int_type_entry(const char *name, size_t size, int is_signed)
{
    key(name);
    printf("[%u, %s]", (unsigned)size, is_signed ? "true" : "false");
}

static void signed_entry(const char *name, long long value)
{
    key(name);
    printf("%lld", value);
}

static void unsigned_entry(const char *name, unsigned long long value)
{
    key(name);
    printf("%llu", value);
}

static void guid_entry(const char *name, GUID g)
{
    key(name);
    printf("\"%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x\"",
           (unsigned long)g.Data1, g.Data2, g.Data3, g.Data4[0], g.Data4[1], g.Data4[2],
           g.Data4[3], g.Data4[4], g.Data4[5], g.Data4[6], g.Data4[7]);
}

#define STRUCT(T) size_entry(#T, sizeof(T), _Alignof(T))
#define FIELD(T, f) field_entry(#T "." #f, offsetof(T, f), sizeof(((T *)0)->f))
#define INT_TYPE(T) int_type_entry(#T, sizeof(T), ((T)-1) < (T)0)
#define PTR_TYPE(T) int_type_entry(#T, sizeof(T), 0)
/* A constant printed with the signedness of its C type. */
#define VALUE(c) \
    _Generic((c), unsigned char: unsigned_entry(#c, (unsigned long long)(c)), \
             unsigned short: unsigned_entry(#c, (unsigned long long)(c)), \
             unsigned int: unsigned_entry(#c, (unsigned long long)(c)), \
             unsigned long: unsigned_entry(#c, (unsigned long long)(c)), \
             unsigned long long: unsigned_entry(#c, (unsigned long long)(c)), \
             default: signed_entry(#c, (long long)(c)))
/* Pointer-valued constants (INVALID_HANDLE_VALUE), as the address they hold. */
#define PTR_CONST(c) unsigned_entry(#c, (unsigned long long)(ULONG_PTR)(c))
/* NTSTATUS values, as the 32 bits found in OVERLAPPED.Internal. */
#define STATUS_CONST(c) unsigned_entry(#c, (unsigned long long)(DWORD)(c))

/* The WSA_CMSG_* macros (mswsock.h), for the Python arithmetic to be checked
 * against: each length macro for the lengths 0 to CMSG_LENGTHS - 1, where a
 * header's data starts, and where FIRSTHDR and NXTHDR lead through a control
 * buffer of messages laid out with WSA_CMSG_SPACE, for every Control.len from 0
 * to its end.  (Past the end lie zeros: a cmsg_len of 0 would lead NXTHDR back
 * to the same header forever, as it would in C.) */
#define CMSG_LENGTHS 70

static void length_table(const char *name, size_t (*macro)(size_t))
{
    key(name);
    printf("[");
    for (size_t n = 0; n < CMSG_LENGTHS; n++)
        printf("%s%u", n ? ", " : "", (unsigned)macro(n));
    printf("]");
}

static size_t hdr_align(size_t n) { return WSA_CMSGHDR_ALIGN(n); }
static size_t data_align(size_t n) { return WSA_CMSGDATA_ALIGN(n); }
static size_t cmsg_space(size_t n) { return WSA_CMSG_SPACE(n); }
static size_t cmsg_len(size_t n) { return WSA_CMSG_LEN(n); }

static const unsigned walk_lengths[] = {4, 20, 1, 0, 8, 7, 16};
#define WALK_MESSAGES (sizeof(walk_lengths) / sizeof(walk_lengths[0]))

static void cmsg_section(void)
{
    /* 8-aligned storage, as malloc gives: the macros add to the buffer's address. */
    static unsigned long long storage[64];
    unsigned char *buffer = (unsigned char *)storage;
    size_t total = 0;
    WSAMSG msg;
    WSACMSGHDR *cmsg;

    length_table("WSA_CMSGHDR_ALIGN", hdr_align);
    length_table("WSA_CMSGDATA_ALIGN", data_align);
    length_table("WSA_CMSG_SPACE", cmsg_space);
    length_table("WSA_CMSG_LEN", cmsg_len);

    memset(storage, 0, sizeof(storage));
    for (size_t i = 0; i < WALK_MESSAGES; i++) {
        cmsg = (WSACMSGHDR *)(buffer + total);
        cmsg->cmsg_len = WSA_CMSG_LEN(walk_lengths[i]);
        cmsg->cmsg_level = (INT)i;
        cmsg->cmsg_type = (INT)(100 + i);
        total += WSA_CMSG_SPACE(walk_lengths[i]);
    }
    key("WSA_CMSG_DATA offset");
    printf("%u", (unsigned)(WSA_CMSG_DATA((WSACMSGHDR *)buffer) - buffer));
    key("walk data lengths");
    printf("[");
    for (size_t i = 0; i < WALK_MESSAGES; i++)
        printf("%s%u", i ? ", " : "", walk_lengths[i]);
    printf("]");
    /* For each Control.len, the offsets of the headers the macros visit. */
    key("walk offsets by Control.len");
    printf("[");
    for (size_t len = 0; len <= total; len++) {
        msg.Control.buf = (char *)buffer;
        msg.Control.len = (ULONG)len;
        printf("%s[", len ? ", " : "");
        int first = 1;
        for (cmsg = WSA_CMSG_FIRSTHDR(&msg); cmsg; cmsg = WSA_CMSG_NXTHDR(&msg, cmsg)) {
            printf("%s%u", first ? "" : ", ", (unsigned)((unsigned char *)cmsg - buffer));
            first = 0;
        }
        printf("]");
    }
    printf("]");
}

int main(void)
{
    section("types", 1);
    INT_TYPE(BYTE); INT_TYPE(UCHAR); INT_TYPE(u_char); INT_TYPE(CHAR); INT_TYPE(CCHAR);
    INT_TYPE(WORD); INT_TYPE(USHORT); INT_TYPE(u_short); INT_TYPE(SHORT);
    INT_TYPE(DWORD); INT_TYPE(ULONG); INT_TYPE(UINT); INT_TYPE(u_long); INT_TYPE(u_int);
    INT_TYPE(LONG); INT_TYPE(INT); INT_TYPE(BOOL);
    INT_TYPE(LONGLONG); INT_TYPE(INT64); INT_TYPE(ULONGLONG); INT_TYPE(DWORD64); INT_TYPE(UINT64);
    INT_TYPE(WCHAR);
    INT_TYPE(ULONG_PTR); INT_TYPE(UINT_PTR); INT_TYPE(DWORD_PTR); INT_TYPE(SIZE_T);
    INT_TYPE(LONG_PTR); INT_TYPE(INT_PTR); INT_TYPE(SSIZE_T);
    INT_TYPE(ADDRESS_FAMILY); INT_TYPE(NTSTATUS); INT_TYPE(GROUP); INT_TYPE(socklen_t);
    INT_TYPE(SOCKET);
    PTR_TYPE(PVOID); PTR_TYPE(LPVOID); PTR_TYPE(LPCVOID); PTR_TYPE(HANDLE); PTR_TYPE(HMODULE);
    PTR_TYPE(WSAEVENT); PTR_TYPE(LPSTR); PTR_TYPE(LPCSTR); PTR_TYPE(LPWSTR); PTR_TYPE(LPCWSTR);
    PTR_TYPE(PSTR); PTR_TYPE(PCSTR); PTR_TYPE(PWSTR); PTR_TYPE(PCWSTR);
    PTR_TYPE(LPWSAOVERLAPPED_COMPLETION_ROUTINE); PTR_TYPE(PAPCFUNC); PTR_TYPE(WAITORTIMERCALLBACK);
    PTR_TYPE(LPFN_ACCEPTEX); PTR_TYPE(LPFN_CONNECTEX); PTR_TYPE(LPFN_GETACCEPTEXSOCKADDRS);
    PTR_TYPE(LPFN_DISCONNECTEX); PTR_TYPE(LPFN_TRANSMITFILE);
    PTR_TYPE(LPFN_WSARECVMSG); PTR_TYPE(LPFN_WSASENDMSG);

    section("structures", 0);
    STRUCT(GUID); STRUCT(WSADATA); STRUCT(WSABUF); STRUCT(OVERLAPPED); STRUCT(WSAOVERLAPPED);
    STRUCT(OVERLAPPED_ENTRY); STRUCT(SOCKADDR); STRUCT(IN_ADDR); STRUCT(SOCKADDR_IN);
    STRUCT(IN6_ADDR); STRUCT(SOCKADDR_IN6); STRUCT(SOCKADDR_STORAGE); STRUCT(ADDRINFOA);
    STRUCT(ADDRINFOW); STRUCT(WSANETWORKEVENTS); STRUCT(LINGER); STRUCT(WSAPROTOCOLCHAIN);
    STRUCT(WSAPROTOCOL_INFOA); STRUCT(WSAPROTOCOL_INFOW); STRUCT(TRANSMIT_FILE_BUFFERS);
    STRUCT(SECURITY_ATTRIBUTES); STRUCT(WSAMSG); STRUCT(WSACMSGHDR); STRUCT(IN_PKTINFO);
    STRUCT(IN6_PKTINFO);

    section("fields", 0);
    FIELD(GUID, Data1); FIELD(GUID, Data2); FIELD(GUID, Data3); FIELD(GUID, Data4);
    FIELD(WSADATA, wVersion); FIELD(WSADATA, wHighVersion); FIELD(WSADATA, iMaxSockets);
    FIELD(WSADATA, iMaxUdpDg); FIELD(WSADATA, lpVendorInfo); FIELD(WSADATA, szDescription);
    FIELD(WSADATA, szSystemStatus);
    FIELD(WSABUF, len); FIELD(WSABUF, buf);
    FIELD(OVERLAPPED, Internal); FIELD(OVERLAPPED, InternalHigh); FIELD(OVERLAPPED, Offset);
    FIELD(OVERLAPPED, OffsetHigh); FIELD(OVERLAPPED, Pointer); FIELD(OVERLAPPED, hEvent);
    FIELD(WSAOVERLAPPED, Internal); FIELD(WSAOVERLAPPED, InternalHigh);
    FIELD(WSAOVERLAPPED, Offset); FIELD(WSAOVERLAPPED, OffsetHigh);
    FIELD(WSAOVERLAPPED, Pointer); FIELD(WSAOVERLAPPED, hEvent);
    FIELD(OVERLAPPED_ENTRY, lpCompletionKey); FIELD(OVERLAPPED_ENTRY, lpOverlapped);
    FIELD(OVERLAPPED_ENTRY, Internal); FIELD(OVERLAPPED_ENTRY, dwNumberOfBytesTransferred);
    FIELD(SOCKADDR, sa_family); FIELD(SOCKADDR, sa_data);
    FIELD(IN_ADDR, S_un); FIELD(IN_ADDR, S_un.S_un_b); FIELD(IN_ADDR, S_un.S_un_b.s_b1);
    FIELD(IN_ADDR, S_un.S_un_b.s_b2); FIELD(IN_ADDR, S_un.S_un_b.s_b3);
    FIELD(IN_ADDR, S_un.S_un_b.s_b4); FIELD(IN_ADDR, S_un.S_un_w);
    FIELD(IN_ADDR, S_un.S_un_w.s_w1); FIELD(IN_ADDR, S_un.S_un_w.s_w2);
    FIELD(IN_ADDR, S_un.S_addr);
    FIELD(SOCKADDR_IN, sin_family); FIELD(SOCKADDR_IN, sin_port); FIELD(SOCKADDR_IN, sin_addr);
    FIELD(SOCKADDR_IN, sin_zero);
    FIELD(IN6_ADDR, u); FIELD(IN6_ADDR, u.Byte); FIELD(IN6_ADDR, u.Word);
    FIELD(SOCKADDR_IN6, sin6_family); FIELD(SOCKADDR_IN6, sin6_port);
    FIELD(SOCKADDR_IN6, sin6_flowinfo); FIELD(SOCKADDR_IN6, sin6_addr);
    FIELD(SOCKADDR_IN6, sin6_scope_id);
    FIELD(SOCKADDR_STORAGE, ss_family); FIELD(SOCKADDR_STORAGE, __ss_pad1);
    FIELD(SOCKADDR_STORAGE, __ss_align); FIELD(SOCKADDR_STORAGE, __ss_pad2);
    FIELD(ADDRINFOA, ai_flags); FIELD(ADDRINFOA, ai_family); FIELD(ADDRINFOA, ai_socktype);
    FIELD(ADDRINFOA, ai_protocol); FIELD(ADDRINFOA, ai_addrlen); FIELD(ADDRINFOA, ai_canonname);
    FIELD(ADDRINFOA, ai_addr); FIELD(ADDRINFOA, ai_next);
    FIELD(ADDRINFOW, ai_flags); FIELD(ADDRINFOW, ai_family); FIELD(ADDRINFOW, ai_socktype);
    FIELD(ADDRINFOW, ai_protocol); FIELD(ADDRINFOW, ai_addrlen); FIELD(ADDRINFOW, ai_canonname);
    FIELD(ADDRINFOW, ai_addr); FIELD(ADDRINFOW, ai_next);
    FIELD(WSANETWORKEVENTS, lNetworkEvents); FIELD(WSANETWORKEVENTS, iErrorCode);
    FIELD(LINGER, l_onoff); FIELD(LINGER, l_linger);
    FIELD(WSAPROTOCOLCHAIN, ChainLen); FIELD(WSAPROTOCOLCHAIN, ChainEntries);
#define PROTOCOL_INFO_FIELDS(T) \
    FIELD(T, dwServiceFlags1); FIELD(T, dwServiceFlags2); FIELD(T, dwServiceFlags3); \
    FIELD(T, dwServiceFlags4); FIELD(T, dwProviderFlags); FIELD(T, ProviderId); \
    FIELD(T, dwCatalogEntryId); FIELD(T, ProtocolChain); FIELD(T, iVersion); \
    FIELD(T, iAddressFamily); FIELD(T, iMaxSockAddr); FIELD(T, iMinSockAddr); \
    FIELD(T, iSocketType); FIELD(T, iProtocol); FIELD(T, iProtocolMaxOffset); \
    FIELD(T, iNetworkByteOrder); FIELD(T, iSecurityScheme); FIELD(T, dwMessageSize); \
    FIELD(T, dwProviderReserved); FIELD(T, szProtocol)
    PROTOCOL_INFO_FIELDS(WSAPROTOCOL_INFOA);
    PROTOCOL_INFO_FIELDS(WSAPROTOCOL_INFOW);
    FIELD(TRANSMIT_FILE_BUFFERS, Head); FIELD(TRANSMIT_FILE_BUFFERS, HeadLength);
    FIELD(TRANSMIT_FILE_BUFFERS, Tail); FIELD(TRANSMIT_FILE_BUFFERS, TailLength);
    FIELD(SECURITY_ATTRIBUTES, nLength); FIELD(SECURITY_ATTRIBUTES, lpSecurityDescriptor);
    FIELD(SECURITY_ATTRIBUTES, bInheritHandle);
    FIELD(WSAMSG, name); FIELD(WSAMSG, namelen); FIELD(WSAMSG, lpBuffers);
    FIELD(WSAMSG, dwBufferCount); FIELD(WSAMSG, Control); FIELD(WSAMSG, dwFlags);
    FIELD(WSACMSGHDR, cmsg_len); FIELD(WSACMSGHDR, cmsg_level); FIELD(WSACMSGHDR, cmsg_type);
    FIELD(IN_PKTINFO, ipi_addr); FIELD(IN_PKTINFO, ipi_ifindex);
    FIELD(IN6_PKTINFO, ipi6_addr); FIELD(IN6_PKTINFO, ipi6_ifindex);

    section("constants", 0);
    VALUE(WSADESCRIPTION_LEN); VALUE(WSASYS_STATUS_LEN); VALUE(FD_MAX_EVENTS);
    VALUE(MAX_PROTOCOL_CHAIN); VALUE(WSAPROTOCOL_LEN);
    VALUE(INVALID_SOCKET); VALUE(SOCKET_ERROR);
    VALUE(AF_UNSPEC); VALUE(PF_UNSPEC); VALUE(AF_INET); VALUE(PF_INET); VALUE(AF_INET6);
    VALUE(PF_INET6);
    VALUE(SOCK_STREAM); VALUE(SOCK_DGRAM); VALUE(SOCK_RAW);
    VALUE(IPPROTO_IP); VALUE(IPPROTO_ICMP); VALUE(IPPROTO_TCP); VALUE(IPPROTO_UDP);
    VALUE(IPPROTO_IPV6); VALUE(IPPROTO_RAW);
    VALUE(INADDR_ANY); VALUE(INADDR_LOOPBACK); VALUE(INADDR_NONE);
    VALUE(INET_ADDRSTRLEN); VALUE(INET6_ADDRSTRLEN);
    VALUE(SOMAXCONN); VALUE(SD_RECEIVE); VALUE(SD_SEND); VALUE(SD_BOTH);
    VALUE(WSA_FLAG_OVERLAPPED); VALUE(WSA_FLAG_NO_HANDLE_INHERIT);
    VALUE(AI_PASSIVE); VALUE(AI_CANONNAME); VALUE(AI_NUMERICHOST);
    VALUE(MSG_OOB); VALUE(MSG_PEEK); VALUE(MSG_DONTROUTE); VALUE(MSG_WAITALL);
    VALUE(MSG_INTERRUPT); VALUE(MSG_PUSH_IMMEDIATE); VALUE(MSG_PARTIAL); VALUE(MSG_TRUNC);
    VALUE(MSG_CTRUNC); VALUE(MSG_BCAST); VALUE(MSG_MCAST);
    VALUE(SOL_SOCKET); VALUE(SO_DEBUG); VALUE(SO_ACCEPTCONN); VALUE(SO_REUSEADDR);
    VALUE(SO_KEEPALIVE); VALUE(SO_DONTROUTE); VALUE(SO_BROADCAST); VALUE(SO_LINGER);
    VALUE(SO_OOBINLINE); VALUE(SO_EXCLUSIVEADDRUSE); VALUE(SO_SNDBUF); VALUE(SO_RCVBUF);
    VALUE(SO_ERROR); VALUE(SO_TYPE); VALUE(SO_PROTOCOL_INFOW); VALUE(SO_CONNECT_TIME);
    VALUE(SO_UPDATE_ACCEPT_CONTEXT); VALUE(SO_UPDATE_CONNECT_CONTEXT);
    VALUE(TCP_NODELAY); VALUE(IPV6_V6ONLY);
    VALUE(IP_TOS); VALUE(IP_TTL); VALUE(IP_PKTINFO); VALUE(IP_HOPLIMIT); VALUE(IP_RECVTTL);
    VALUE(IP_RECVTOS); VALUE(IP_ECN); VALUE(IPV6_UNICAST_HOPS); VALUE(IPV6_PKTINFO);
    VALUE(IPV6_HOPLIMIT); VALUE(IPV6_TCLASS); VALUE(IPV6_RECVTCLASS); VALUE(IPV6_ECN);
    VALUE(IOC_VOID); VALUE(IOC_OUT); VALUE(IOC_IN); VALUE(IOC_INOUT); VALUE(IOC_WS2);
    VALUE(FIONREAD); VALUE(FIONBIO); VALUE(SIOCATMARK);
    VALUE(SIO_GET_EXTENSION_FUNCTION_POINTER); VALUE(SIO_BASE_HANDLE);
    VALUE(SIO_BSP_HANDLE_POLL);
    VALUE(FD_READ_BIT); VALUE(FD_WRITE_BIT); VALUE(FD_OOB_BIT); VALUE(FD_ACCEPT_BIT);
    VALUE(FD_CONNECT_BIT); VALUE(FD_CLOSE_BIT);
    VALUE(FD_READ); VALUE(FD_WRITE); VALUE(FD_OOB); VALUE(FD_ACCEPT); VALUE(FD_CONNECT);
    VALUE(FD_CLOSE); VALUE(FD_ALL_EVENTS);
    VALUE(INFINITE); VALUE(WAIT_OBJECT_0); VALUE(WAIT_ABANDONED_0); VALUE(WAIT_IO_COMPLETION);
    VALUE(WAIT_TIMEOUT); VALUE(WAIT_FAILED); VALUE(MAXIMUM_WAIT_OBJECTS);
    VALUE(WSA_INFINITE); VALUE(WSA_WAIT_EVENT_0); VALUE(WSA_WAIT_IO_COMPLETION);
    VALUE(WSA_WAIT_TIMEOUT); VALUE(WSA_WAIT_FAILED); VALUE(WSA_MAXIMUM_WAIT_EVENTS);
    PTR_CONST(INVALID_HANDLE_VALUE);
    VALUE(FILE_SKIP_COMPLETION_PORT_ON_SUCCESS); VALUE(FILE_SKIP_SET_EVENT_ON_HANDLE);
    VALUE(SYNCHRONIZE); VALUE(THREAD_QUERY_LIMITED_INFORMATION); VALUE(DUPLICATE_SAME_ACCESS);
    VALUE(TF_DISCONNECT); VALUE(TF_REUSE_SOCKET);
    VALUE(GENERIC_READ); VALUE(GENERIC_WRITE); VALUE(OPEN_EXISTING); VALUE(FILE_FLAG_OVERLAPPED);
    VALUE(FILE_SHARE_READ); VALUE(FILE_SHARE_WRITE);
    VALUE(FORMAT_MESSAGE_IGNORE_INSERTS); VALUE(FORMAT_MESSAGE_FROM_SYSTEM);
    VALUE(LANG_NEUTRAL); VALUE(SUBLANG_DEFAULT);
    VALUE(WT_EXECUTEINWAITTHREAD); VALUE(WT_EXECUTEONLYONCE);
    STATUS_CONST(STATUS_SUCCESS); STATUS_CONST(STATUS_PENDING); STATUS_CONST(STATUS_CANCELLED);
    VALUE(ERROR_SUCCESS); VALUE(ERROR_FILE_NOT_FOUND); VALUE(ERROR_INVALID_HANDLE); VALUE(ERROR_NOT_ENOUGH_MEMORY);
    VALUE(ERROR_INVALID_PARAMETER); VALUE(ERROR_BROKEN_PIPE); VALUE(ERROR_SEM_TIMEOUT);
    VALUE(ERROR_NETNAME_DELETED); VALUE(ERROR_HANDLE_EOF); VALUE(ERROR_PIPE_BUSY);
    VALUE(ERROR_MORE_DATA); VALUE(ERROR_OPERATION_ABORTED); VALUE(ERROR_IO_INCOMPLETE);
    VALUE(ERROR_IO_PENDING); VALUE(ERROR_NOT_FOUND); VALUE(ERROR_CONNECTION_REFUSED);
    VALUE(ERROR_NETWORK_UNREACHABLE); VALUE(ERROR_HOST_UNREACHABLE);
    VALUE(ERROR_PORT_UNREACHABLE); VALUE(ERROR_CONNECTION_ABORTED);
    VALUE(ERROR_ABANDONED_WAIT_0); VALUE(ERROR_PIPE_CONNECTED);
    VALUE(WSA_IO_PENDING); VALUE(WSA_IO_INCOMPLETE); VALUE(WSA_INVALID_HANDLE);
    VALUE(WSA_INVALID_PARAMETER); VALUE(WSA_NOT_ENOUGH_MEMORY); VALUE(WSA_OPERATION_ABORTED);
    VALUE(WSABASEERR); VALUE(WSAEINTR); VALUE(WSAEBADF); VALUE(WSAEACCES); VALUE(WSAEFAULT);
    VALUE(WSAEINVAL); VALUE(WSAEMFILE); VALUE(WSAEWOULDBLOCK); VALUE(WSAEINPROGRESS);
    VALUE(WSAEALREADY); VALUE(WSAENOTSOCK); VALUE(WSAEDESTADDRREQ); VALUE(WSAEMSGSIZE);
    VALUE(WSAEPROTOTYPE); VALUE(WSAENOPROTOOPT); VALUE(WSAEPROTONOSUPPORT);
    VALUE(WSAESOCKTNOSUPPORT); VALUE(WSAEOPNOTSUPP); VALUE(WSAEPFNOSUPPORT);
    VALUE(WSAEAFNOSUPPORT); VALUE(WSAEADDRINUSE); VALUE(WSAEADDRNOTAVAIL); VALUE(WSAENETDOWN);
    VALUE(WSAENETUNREACH); VALUE(WSAENETRESET); VALUE(WSAECONNABORTED); VALUE(WSAECONNRESET);
    VALUE(WSAENOBUFS); VALUE(WSAEISCONN); VALUE(WSAENOTCONN); VALUE(WSAESHUTDOWN);
    VALUE(WSAETOOMANYREFS); VALUE(WSAETIMEDOUT); VALUE(WSAECONNREFUSED); VALUE(WSAELOOP);
    VALUE(WSAENAMETOOLONG); VALUE(WSAEHOSTDOWN); VALUE(WSAEHOSTUNREACH); VALUE(WSAENOTEMPTY);
    VALUE(WSAEPROCLIM); VALUE(WSAEUSERS); VALUE(WSAEDQUOT); VALUE(WSAESTALE); VALUE(WSAEREMOTE);
    VALUE(WSASYSNOTREADY); VALUE(WSAVERNOTSUPPORTED); VALUE(WSANOTINITIALISED);
    VALUE(WSAEDISCON); VALUE(WSAENOMORE); VALUE(WSAECANCELLED); VALUE(WSAEINVALIDPROCTABLE);
    VALUE(WSAEINVALIDPROVIDER); VALUE(WSAEPROVIDERFAILEDINIT); VALUE(WSASYSCALLFAILURE);
    VALUE(WSASERVICE_NOT_FOUND); VALUE(WSATYPE_NOT_FOUND); VALUE(WSA_E_NO_MORE);
    VALUE(WSA_E_CANCELLED); VALUE(WSAEREFUSED); VALUE(WSAHOST_NOT_FOUND); VALUE(WSATRY_AGAIN);
    VALUE(WSANO_RECOVERY); VALUE(WSANO_DATA);
    VALUE(TRUE); VALUE(FALSE);
    {
        WORD w = MAKEWORD(2, 2);
        unsigned_entry("MAKEWORD(2, 2)", w);
        w = MAKEWORD(1, 0);
        unsigned_entry("MAKEWORD(1, 0)", w);
    }

    section("guids", 0);
    {
        GUID acceptex = WSAID_ACCEPTEX, connectex = WSAID_CONNECTEX;
        GUID sockaddrs = WSAID_GETACCEPTEXSOCKADDRS, disconnectex = WSAID_DISCONNECTEX;
        GUID transmitfile = WSAID_TRANSMITFILE;
        GUID recvmsg = WSAID_WSARECVMSG, sendmsg = WSAID_WSASENDMSG;
        guid_entry("WSAID_ACCEPTEX", acceptex);
        guid_entry("WSAID_CONNECTEX", connectex);
        guid_entry("WSAID_GETACCEPTEXSOCKADDRS", sockaddrs);
        guid_entry("WSAID_DISCONNECTEX", disconnectex);
        guid_entry("WSAID_TRANSMITFILE", transmitfile);
        guid_entry("WSAID_WSARECVMSG", recvmsg);
        guid_entry("WSAID_WSASENDMSG", sendmsg);
    }

    section("cmsg", 0);
    cmsg_section();
    printf("\n}\n}\n");
    return 0;
}
