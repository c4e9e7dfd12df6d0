// Coordinator is the public face of Server: the same object, minus the
// options that only tests and tools need to change.
#include "runtime/coordinator/coordinator.h"

#include "base/status_macros.h"
#include "runtime/coordinator/server.h"

namespace meridian::coordinator {

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(
    const std::string& listen_address, const std::string& auth_token) {
  ServerOptions options = ServerOptions::FromEnv();
  options.auth_token = auth_token;
  MDN_ASSIGN_OR_RETURN(std::unique_ptr<Server> server,
                       Server::Start(listen_address, options));
  return std::unique_ptr<Coordinator>(new Coordinator(std::move(server)));
}

Coordinator::Coordinator(std::unique_ptr<Server> server)
    : server_(std::move(server)) {}

Coordinator::~Coordinator() = default;

std::string Coordinator::address() const {
  return server_->address().ToString();
}

}  // namespace meridian::coordinator
