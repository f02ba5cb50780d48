/* What the bkes server (src/bkes) and the bkes:// client (src/store/bkes_client.c) share, in the
 * wire layer below both: the generated protobuf-c types under short names, the method paths, the
 * size limits of the wire, packing a message into a gRPC byte buffer and unpacking one, and the
 * lossy UTF-8 rendering of keys used in error texts.
 * Threads: every function is pure or works on caller-owned data; any thread may call them. */
#ifndef WIRE_BKES_WIRE_H
#define WIRE_BKES_WIRE_H

#include <grpc/grpc.h>
#include <stddef.h>

#include "base/buf.h"
#include "bkes.pb-c.h"

typedef Tech__Gklijs__Bkes__Api__Error bkes_pb_error;
typedef Tech__Gklijs__Bkes__Api__StoreSuccess bkes_pb_store_success;
typedef Tech__Gklijs__Bkes__Api__Record bkes_pb_record;
typedef Tech__Gklijs__Bkes__Api__StoredRecords bkes_pb_stored_records;
typedef Tech__Gklijs__Bkes__Api__StartRequest bkes_pb_start_request;
typedef Tech__Gklijs__Bkes__Api__StartReply bkes_pb_start_reply;
typedef Tech__Gklijs__Bkes__Api__AddRequest bkes_pb_add_request;
typedef Tech__Gklijs__Bkes__Api__AddReply bkes_pb_add_reply;
typedef Tech__Gklijs__Bkes__Api__RetrieveRequest bkes_pb_retrieve_request;
typedef Tech__Gklijs__Bkes__Api__RetrieveReply bkes_pb_retrieve_reply;
typedef Tech__Gklijs__Bkes__Api__Event bkes_pb_event;
typedef Tech__Gklijs__Bkes__Api__Events bkes_pb_events;
typedef Tech__Gklijs__Bkes__Api__RetrieveFromRequest bkes_pb_retrieve_from_request;
typedef Tech__Gklijs__Bkes__Api__RetrieveFromReply bkes_pb_retrieve_from_reply;
typedef Tech__Gklijs__Bkes__Api__AddBatchRequest bkes_pb_add_batch_request;
typedef Tech__Gklijs__Bkes__Api__AddBatchReply bkes_pb_add_batch_reply;
typedef Tech__Gklijs__Bkes__Api__SubscribeRequest bkes_pb_subscribe_request;
typedef Tech__Gklijs__Bkes__Api__SubscribeReply bkes_pb_subscribe_reply;
typedef Tech__Gklijs__Bkes__Api__CountRequest bkes_pb_count_request;
typedef Tech__Gklijs__Bkes__Api__CountReply bkes_pb_count_reply;
typedef Tech__Gklijs__Bkes__Api__HeadRequest bkes_pb_head_request;
typedef Tech__Gklijs__Bkes__Api__HeadReply bkes_pb_head_reply;
typedef Tech__Gklijs__Bkes__Api__AddManyRequest bkes_pb_add_many_request;
typedef Tech__Gklijs__Bkes__Api__AddManyReply bkes_pb_add_many_reply;

#define BKES_ERROR_USER TECH__GKLIJS__BKES__API__ERROR__TYPE__USER
#define BKES_ERROR_CONCURRENCY TECH__GKLIJS__BKES__API__ERROR__TYPE__CONCURRENCY
#define BKES_ERROR_SERVER TECH__GKLIJS__BKES__API__ERROR__TYPE__SERVER

/* Full gRPC method paths. */
#define BKES_SERVICE_PATH "/tech.gklijs.bkes.api.Bkes/"
#define BKES_METHOD_START BKES_SERVICE_PATH "Start"
#define BKES_METHOD_ADD BKES_SERVICE_PATH "Add"
#define BKES_METHOD_RETRIEVE BKES_SERVICE_PATH "Retrieve"
#define BKES_METHOD_RETRIEVE_FROM BKES_SERVICE_PATH "RetrieveFrom"
#define BKES_METHOD_ADD_BATCH BKES_SERVICE_PATH "AddBatch"
#define BKES_METHOD_SUBSCRIBE BKES_SERVICE_PATH "Subscribe"
#define BKES_METHOD_COUNT BKES_SERVICE_PATH "Count"
#define BKES_METHOD_HEAD BKES_SERVICE_PATH "Head"
#define BKES_METHOD_ADD_MANY BKES_SERVICE_PATH "AddMany"

/* The most appends one AddMany call may carry. */
#define BKES_ADD_MANY_MAX 1024

/* The largest request the server accepts and the largest reply the client accepts for every rpc
 * except Retrieve (gRPC answers RESOURCE_EXHAUSTED beyond it). One event of the largest size
 * (STORE_KEY_MAX + STORE_VALUE_MAX) always fits. */
#define BKES_MESSAGE_MAX (4u << 20)
/* The seed's Retrieve returns every record of a key in one reply; beyond this many value bytes it
 * answers a USER error that points to RetrieveFrom. */
#define BKES_RETRIEVE_MAX (64u << 20)
/* RetrieveFrom pages stop after the event that crosses this many value bytes. */
#define BKES_PAGE_BYTES (2u << 20)

/* Packs `msg` into a new byte buffer (caller destroys it with grpc_byte_buffer_destroy).
 * NULL only when memory runs out. */
grpc_byte_buffer *bkes_wire_pack(const ProtobufCMessage *msg);

/* Decodes `bb` as a message of type `desc`. NULL when `bb` is NULL (no message) or the bytes are
 * not a valid encoding. Caller frees the result with protobuf_c_message_free_unpacked(m, NULL). */
ProtobufCMessage *bkes_wire_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb);

/* Appends `key` to `out` as lossy UTF-8: every maximal invalid subsequence becomes U+FFFD (as
 * Rust's String::from_utf8_lossy does). Fails only if `out` reaches its bound. */
status bkes_wire_lossy_utf8(buf *out, const void *key, size_t len);

#endif
