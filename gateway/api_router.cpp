#include "gateway/api_router.hpp"

#include <boost/asio/post.hpp>
#include <simdjson.h>

#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "common/logging.hpp"
#include "gateway/console_page.hpp"
#include "gateway/metrics.hpp"
#include "gateway/query_string.hpp"
#include "gateway/snapshot_request.hpp"
#include "gateway/snapshot_stream.hpp"
#include "gateway/v2_api.hpp"

namespace deltastream::gateway {

namespace {

namespace net = boost::asio;

void drop_stream(gateway_context& context, const std::string& stream) {
  if (stream.empty()) return;
  proto::control_request drop;
  drop.op = proto::control_op::drop;
  drop.stream = stream;
  context.link.call(drop, [&context, stream](const proto::control_reply& reply) {
    if (!reply.ok) return module_logger("api")->warn("could not drop {}: {}", stream, reply.error);
    context.hub.drop(stream);  // its stream_end may not come: nothing was streaming
  });
  net::post(context.database, [&context, stream] { context.snapshots.forget(stream); });
}

// GET /v1/init: a new stream with its snapshot held by this gateway; the stream that the
// previous /v1/init created is dropped (only that one: pgdeltastream dropped every slot
// whose name contained "delta_", in every database).
void init_stream(gateway_context& context, respond_function respond) {
  proto::control_request create;
  create.op = proto::control_op::create;
  context.link.call(create, [&context, respond](const proto::control_reply& created) {
    if (!created.ok) {
      module_logger("api")->warn("init: {}", created.error);
      return respond(json_error(http::status::service_unavailable,
                                "unable to init session: " + created.error));
    }
    net::post(context.database, [&context, respond, created] {
      std::string failure;
      try {
        context.snapshots.import(created.stream, created.snapshot);
      } catch (const pg_error& error) {
        failure = error.what();
      }
      net::post(context.io, [&context, respond, created, failure] {
        proto::control_request release;
        release.op = proto::control_op::release;
        release.stream = created.stream;
        context.link.call(release, [](const proto::control_reply&) {});
        if (!failure.empty()) {
          drop_stream(context, created.stream);
          return respond(json_error(http::status::internal_server_error,
                                    "unable to init session: " + failure));
        }
        drop_stream(context, std::exchange(context.last_init_stream, created.stream));
        respond(json_response(http::status::ok,
                              json_object().add("slotName", created.stream).str()));
      });
    });
  });
}

// POST /v1/snapshot/data: one page of the snapshot, read on a database thread.
void read_snapshot(gateway_context& context, const http_request& request, respond_function respond) {
  auto parsed = parse_snapshot_request(request.body(), context.settings.max_page_rows);
  if (const auto* problem = std::get_if<request_error>(&parsed)) {
    return respond(json_error(http::status::bad_request, problem->message));
  }
  auto query = std::get<snapshot_request>(std::move(parsed));
  const std::string stream = query.slot_name.empty() ? context.last_init_stream : query.slot_name;
  net::post(context.database, [&context, respond, stream, query = std::move(query)] {
    snapshot_store::page page;
    try {
      page = context.snapshots.read_page(stream, query);
    } catch (const std::exception& error) {
      page = {500, json_object().add("error", std::string("unable to get snapshot data: ") + error.what()).str()};
    }
    const bool served = page.status == 200;
    net::post(context.io, [respond, page = std::move(page)] {
      respond(json_response(static_cast<http::status>(page.status), page.body));
    });
    // While that page travels and the client asks for the next, PostgreSQL reads it.
    if (served) context.snapshots.read_ahead(stream);
  });
}

// GET /v1/snapshot/stream: the whole table as NDJSON, one row_to_json object a line,
// from the same snapshot as /v1/snapshot/data and with its errors (sent before any row).
void stream_snapshot(gateway_context& context, const request_target& target, respond_function respond) {
  auto parsed = parse_stream_request(target);
  if (const auto* problem = std::get_if<request_error>(&parsed)) {
    return respond(json_error(http::status::bad_request, problem->message));
  }
  auto query = std::get<snapshot_request>(std::move(parsed));
  const std::string stream = query.slot_name.empty() ? context.last_init_stream : query.slot_name;
  respond_with_copy(context, std::move(respond), [&context, stream, query = std::move(query)] {
    return context.snapshots.open_stream(stream, query);
  });
}

// GET /metrics: this gateway's counters, and the reader's view of the slots.
void serve_metrics(gateway_context& context, respond_function respond) {
  proto::control_request list;
  list.op = proto::control_op::list;
  context.link.call(list, [&context, respond](const proto::control_reply& reply) {
    const process_figures process{context.link.disconnects()};
    http_response response{http::status::ok, 11};
    response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.body() = render_metrics(context.hub.stats(), process, reply.ok ? reply.json : "");
    response.prepare_payload();
    respond(std::move(response));
  });
}

// GET /readyz: 200 when the reader answers and reaches PostgreSQL; 503 says which not.
void serve_readiness(gateway_context& context, respond_function respond) {
  proto::control_request status;
  status.op = proto::control_op::status;
  const bool tokens = context.settings.access.tokens.has_value();
  context.link.call(status, [respond, tokens](const proto::control_reply& reply) {
    bool postgres = false;
    if (reply.ok) {
      simdjson::dom::parser parser;
      simdjson::dom::object object;
      postgres = !parser.parse(reply.json).get_object().get(object) &&
                 !object["postgres"].get_bool().get(postgres) && postgres;
    }
    const bool ready = reply.ok && postgres;
    auto body = json_object()
                    .add("status", ready ? "ready" : "not ready")
                    .add("reader", reply.ok)
                    .add("postgres", postgres)
                    .add("token_required", tokens);  // so that a page asks for one before a 401
    if (!reply.ok) body.add("error", reply.error);
    respond(json_response(ready ? http::status::ok : http::status::service_unavailable, body.str()));
  });
}

http_response method_not_allowed(http::verb allowed) {
  auto response = json_error(http::status::method_not_allowed,
                             "method not allowed; use " + std::string(http::to_string(allowed)));
  response.set(http::field::allow, http::to_string(allowed));
  return response;
}

// A HEAD request's answer: the GET's status and headers, Content-Length included, no body.
respond_function headers_only(respond_function respond) {
  return [respond = std::move(respond)](http_reply reply) {
    if (auto* response = std::get_if<http_response>(&reply)) {
      response->content_length(response->body().size());
      response->body().clear();
    }
    respond(std::move(reply));
  };
}

}  // namespace

void respond_with_copy(gateway_context& context, respond_function respond, copy_opener open) {
  net::post(context.database, [&context, respond = std::move(respond), open = std::move(open)] {
    std::shared_ptr<snapshot_stream> rows;
    snapshot_store::page refusal;
    try {
      auto opened = open();
      if (auto* copying = std::get_if<pg_conn>(&opened)) {
        rows = std::make_shared<snapshot_stream>(std::move(*copying), context.database, context.io);
      } else {
        refusal = std::get<snapshot_store::page>(std::move(opened));
      }
    } catch (const std::exception& error) {
      refusal = {500, json_object().add("error", std::string("unable to read the snapshot: ") + error.what()).str()};
    }
    net::post(context.io, [respond, rows, refusal = std::move(refusal)] {
      if (rows) return respond(streamed_response{"application/x-ndjson", rows});
      respond(json_response(static_cast<http::status>(refusal.status), refusal.body));
    });
  });
}

void route_request(gateway_context& context, const http_request& request, respond_function respond) {
  const auto target = parse_target({request.target().data(), request.target().size()});
  if (!target) return respond(json_error(http::status::bad_request, "malformed request target"));
  std::string path = target->path;
  if (path.size() > 1 && path.back() == '/') path.pop_back();  // gin redirected these
  const auto method = request.method();

  if (path == "/v1/init") {
    if (method != http::verb::get) return respond(method_not_allowed(http::verb::get));
    return init_stream(context, std::move(respond));
  }
  if (path == "/v1/snapshot/data") {
    if (method != http::verb::post) return respond(method_not_allowed(http::verb::post));
    return read_snapshot(context, request, std::move(respond));
  }
  if (path == "/v1/snapshot/stream") {
    if (method != http::verb::get) return respond(method_not_allowed(http::verb::get));
    return stream_snapshot(context, *target, std::move(respond));
  }
  if (path == "/v1/lr/stream") {
    if (target->param("slotName").empty()) {
      return respond(json_error(http::status::bad_request, "no slotName provided"));
    }
    return respond(json_error(http::status::bad_request,
                              "could not upgrade to websocket connection: not a WebSocket "
                              "upgrade request"));
  }
  if (route_v2(context, request, *target, respond)) return;
  if (is_console_path(path)) return respond(console_response(request, path));
  if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    if (method == http::verb::head) respond = headers_only(std::move(respond));  // probes use HEAD too
    else if (method != http::verb::get) return respond(method_not_allowed(http::verb::get));
    if (path == "/readyz") return serve_readiness(context, std::move(respond));
    if (path == "/metrics") return serve_metrics(context, std::move(respond));
    return respond(json_response(http::status::ok, R"({"status":"ok"})"));
  }
  respond(json_error(http::status::not_found, "not found: " + path));
}

}  // namespace deltastream::gateway
