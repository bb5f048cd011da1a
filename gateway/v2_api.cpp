#include "gateway/v2_api.hpp"

#include <boost/asio/post.hpp>
#include <simdjson.h>

#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "common/logging.hpp"
#include "gateway/v2_path.hpp"
#include "gateway/v2_snapshot_query.hpp"
#include "gateway/v2_stream_view.hpp"

namespace deltastream::gateway {

namespace {

namespace net = boost::asio;

// The reader's refusal as HTTP: PostgreSQL's SQLSTATE says whose fault it was.
http::status refusal_status(const proto::control_reply& reply) {
  using proto::refusal_code;
  if (reply.code == refusal_code::bad_request) return http::status::bad_request;
  if (reply.code == refusal_code::no_such_stream) return http::status::not_found;
  if (reply.code != refusal_code::postgres) return http::status::service_unavailable;  // no reader
  const auto& state = reply.sqlstate;
  if (state == "42P01") return http::status::not_found;  // undefined_table
  if (state == "42710") return http::status::conflict;   // duplicate_object: the name is in use
  if (state.empty() || state.starts_with("08") || state.starts_with("53") || state.starts_with("57")) {
    return http::status::service_unavailable;  // PostgreSQL unreachable, out of resources, shutting down
  }
  return http::status::bad_request;  // what PostgreSQL refused in the definition
}

// PostgreSQL's refusal as a person reads it: "<query>: ERROR:  <message>\nHINT:  <hint>
// \nCONTEXT: ..." becomes "<message> (<hint>)"; the rest is the reader's own text.
std::string refusal_message(const proto::control_reply& reply, const std::string& name) {
  if (reply.code == proto::refusal_code::no_such_stream) return "no such stream \"" + name + "\"";
  std::string_view text = reply.error;
  if (const auto at = text.find("ERROR:  "); at != std::string_view::npos) text.remove_prefix(at + 8);
  std::string message(text.substr(0, text.find('\n')));
  if (const auto at = text.find("\nHINT:  "); at != std::string_view::npos) {
    const auto hint = text.substr(at + 8);
    message += " (" + std::string(hint.substr(0, hint.find('\n'))) + ")";
  }
  return message;
}

// What the caller's token may read: nullopt for every stream.
std::optional<access_grant> grant_of(const gateway_context& context, const http_request& request,
                                     const request_target& target) {
  if (!context.settings.access.tokens) return std::nullopt;
  return context.settings.access.tokens->authorize(presented_token(request, target));
}

// Answers with the reader's list of row streams, rendered by `answer`.
template <class Answer>
void with_streams(gateway_context& context, respond_function respond, Answer answer) {
  proto::control_request list;
  list.op = proto::control_op::list;
  context.link.call(list, [&context, respond, answer](const proto::control_reply& reply) {
    if (!reply.ok) return respond(json_error(refusal_status(reply), "cannot list streams: " + reply.error));
    respond(answer(row_streams(context, reply.json)));
  });
}

void list_streams(gateway_context& context, std::optional<access_grant> grant, respond_function respond) {
  with_streams(context, std::move(respond), [grant](const std::vector<v2_stream_view>& streams) {
    std::string items = "[";
    for (const auto& stream : streams) {
      if (grant && !grant->reads(stream.name)) continue;
      if (items.size() > 1) items += ',';
      items += stream.json;
    }
    return json_response(http::status::ok, json_object().raw("streams", items + "]").str());
  });
}

// GET /v2/slots: every slot the reader serves, v1's too, for dashboards (the console).
void list_slots(gateway_context& context, const request_target& target, std::optional<access_grant> grant,
                respond_function respond) {
  const auto history = target.param("history");
  if (!history.empty() && history != "true" && history != "false") {
    return respond(json_error(http::status::bad_request, "history must be true or false"));
  }
  proto::control_request list;
  list.op = proto::control_op::list;
  const auto samples = history == "true" ? lag_samples::included : lag_samples::omitted;
  context.link.call(list, [&context, respond, grant, samples](const proto::control_reply& reply) {
    if (!reply.ok) return respond(json_error(refusal_status(reply), "cannot list slots: " + reply.error));
    const auto slots = all_slots(context, reply.json, grant, samples);
    // The gateway's clock: its lag samples' clock, which a page's own samples must follow.
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now().time_since_epoch());
    respond(json_response(http::status::ok, json_object()
                                                .add("now", static_cast<std::int64_t>(now.count()))
                                                .add("lag_history_interval_seconds",
                                                     static_cast<std::uint64_t>(lag_history::interval.count()))
                                                .raw("slots", slots)
                                                .str()));
  });
}

void show_stream(gateway_context& context, const std::string& name, http::status status, respond_function respond) {
  with_streams(context, std::move(respond), [name, status](const std::vector<v2_stream_view>& streams) {
    for (const auto& stream : streams) {
      if (stream.name == name) return json_response(status, stream.json);
    }
    return json_error(http::status::not_found, "no such stream \"" + name + "\"");
  });
}

struct create_body {
  std::string name;
  std::string tables;  // the JSON array, checked by the reader
  bool snapshot = true;
};

std::variant<create_body, std::string> parse_create_body(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body).get_object().get(object)) return std::string("the body must be a JSON object");
  create_body parsed;
  for (auto field : object) {
    const std::string_view key = field.key;
    std::string_view text;
    if (key == "name") {
      if (field.value.get_string().get(text) || !valid_v2_name(text)) {
        return std::string("\"name\" must match [a-z][a-z0-9_]{0,39}");
      }
      parsed.name = std::string(text);
    } else if (key == "tables") {
      if (!field.value.is_array()) return std::string("\"tables\" must be an array of tables");
      parsed.tables = simdjson::minify(field.value);
    } else if (key == "snapshot") {
      if (field.value.get_bool().get(parsed.snapshot)) return std::string("\"snapshot\" must be true or false");
    } else {
      return "unknown key \"" + std::string(key) + "\" (expected name, tables, snapshot)";
    }
  }
  if (parsed.name.empty()) return std::string("missing \"name\"");
  if (parsed.tables.empty()) return std::string("missing \"tables\"");
  return parsed;
}

void release_snapshot_export(gateway_context& context, const std::string& slot) {
  proto::control_request release;
  release.op = proto::control_op::release;
  release.stream = slot;
  context.link.call(release, [](const proto::control_reply&) {});
}

void delete_stream(gateway_context& context, const std::string& name, respond_function respond);

// POST /v2/streams: the reader makes the publication and the slot; this gateway holds
// the snapshot the slot exported, which the stream's /snapshot reads.
void create_stream(gateway_context& context, const http_request& request, respond_function respond) {
  auto parsed = parse_create_body(request.body());
  if (const auto* problem = std::get_if<std::string>(&parsed)) {
    return respond(json_error(http::status::bad_request, *problem));
  }
  auto body = std::get<create_body>(std::move(parsed));
  proto::control_request create;
  create.op = proto::control_op::create;
  create.stream = v2_slot(body.name);
  create.tables = body.tables;
  context.link.call(create, [&context, respond, body](const proto::control_reply& created) {
    if (!created.ok) return respond(json_error(refusal_status(created), refusal_message(created, body.name)));
    const auto slot = v2_slot(body.name);
    if (!body.snapshot) {
      release_snapshot_export(context, slot);
      return show_stream(context, body.name, http::status::created, respond);
    }
    net::post(context.database, [&context, respond, body, slot, snapshot = created.snapshot] {
      std::string failure;
      try {
        context.snapshots.import(slot, snapshot);
      } catch (const pg_error& error) {
        failure = error.what();
      }
      net::post(context.io, [&context, respond, body, slot, failure] {
        release_snapshot_export(context, slot);
        if (failure.empty()) return show_stream(context, body.name, http::status::created, respond);
        // Nothing left behind: a stream whose snapshot was asked for and lost is dropped.
        delete_stream(context, body.name, [](http_reply&&) {});
        respond(json_error(http::status::internal_server_error, "cannot hold the stream's snapshot: " + failure));
      });
    });
  });
}

void delete_stream(gateway_context& context, const std::string& name, respond_function respond) {
  proto::control_request drop;
  drop.op = proto::control_op::drop;
  drop.stream = v2_slot(name);
  context.link.call(drop, [&context, respond, name](const proto::control_reply& reply) {
    if (!reply.ok) return respond(json_error(refusal_status(reply), refusal_message(reply, name)));
    const auto slot = v2_slot(name);
    context.hub.drop(slot);
    net::post(context.database, [&context, slot] { context.snapshots.forget(slot); });
    http_response done{http::status::no_content, 11};
    respond(std::move(done));
  });
}

// GET /v2/streams/{name}/snapshot: NDJSON from the snapshot this gateway holds.
void read_snapshot(gateway_context& context, const request_target& target, const std::string& name,
                   respond_function respond) {
  auto parsed = parse_v2_snapshot_request(target, v2_slot(name));
  if (const auto* problem = std::get_if<std::string>(&parsed)) {
    return respond(json_error(http::status::bad_request, *problem));
  }
  respond_with_copy(context, std::move(respond), [&context, name, query = std::get<v2_snapshot_request>(std::move(parsed))]
                    () mutable -> std::variant<snapshot_store::page, pg_conn> {
    if (context.snapshots.holds(query.publication)) {
      query.publication_oid = context.snapshots.publication_oid(query.publication);
      return context.snapshots.open_copy(query.publication, {},
                                         [&query](PGconn* conn) { return build_v2_snapshot_copy(conn, query); });
    }
    if (!context.snapshots.slot_exists(query.publication)) {
      return snapshot_store::page{404, json_object().add("error", "no such stream \"" + name + "\"").str()};
    }
    return snapshot_store::page{
        410, json_object()
                 .add("error", "the snapshot of stream \"" + name + "\" is no longer held here: the gateway that "
                               "created the stream holds it (ask that one) until it has been unread for " +
                               std::to_string(context.settings.snapshot_idle_timeout.count()) +
                               " s or the gateway restarts, and none is taken with \"snapshot\": false; "
                               "the changes since are all in /changes")
                 .str()};
  });
}

http_response wrong_method(const char* allowed) {
  auto response = json_error(http::status::method_not_allowed, std::string("method not allowed; use ") + allowed);
  response.set(http::field::allow, allowed);
  return response;
}

}  // namespace

bool route_v2(gateway_context& context, const http_request& request, const request_target& target,
              respond_function& respond) {
  const auto method = request.method();
  if (target.path == "/v2/slots") {
    if (method != http::verb::get) return respond(wrong_method("GET")), true;
    return list_slots(context, target, grant_of(context, request, target), respond), true;
  }
  const auto path = parse_v2_path(target.path);
  if (!path) return false;
  if (path->name.empty()) {
    if (method == http::verb::get) return list_streams(context, grant_of(context, request, target), respond), true;
    if (method == http::verb::post) return create_stream(context, request, respond), true;
    return respond(wrong_method("GET, POST")), true;
  }
  if (!valid_v2_name(path->name)) return respond(json_error(http::status::not_found, "no such stream \"" + path->name + "\"")), true;
  if (path->action.empty()) {
    if (method == http::verb::get) return show_stream(context, path->name, http::status::ok, respond), true;
    if (method == http::verb::delete_) return delete_stream(context, path->name, respond), true;
    return respond(wrong_method("GET, DELETE")), true;
  }
  if (path->action == "snapshot") {
    if (method != http::verb::get) return respond(wrong_method("GET")), true;
    return read_snapshot(context, target, path->name, respond), true;
  }
  if (path->action == "changes") {
    respond(json_error(http::status::bad_request, "/v2/streams/" + path->name +
                                                      "/changes is a WebSocket: connect with a WebSocket client"));
    return true;
  }
  respond(json_error(http::status::not_found, "not found: " + target.path));
  return true;
}

}  // namespace deltastream::gateway
