#include "gateway/client_connections.hpp"

namespace deltastream::gateway {

namespace ip = boost::asio::ip;

connection_token::connection_token(std::shared_ptr<client_connections> owner, ip::address address)
    : owner_(std::move(owner)), address_(std::move(address)) {}

connection_token& connection_token::operator=(connection_token&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::move(other.owner_);
    address_ = std::move(other.address_);
  }
  return *this;
}

connection_token::~connection_token() { release(); }

void connection_token::release() {
  if (!owner_) return;  // moved from
  owner_->release(address_);
  owner_.reset();
}

std::optional<connection_token> client_connections::admit(ip::address address) {
  address = client_of(address);
  auto& count = open_[address];
  if (count >= limit_) {
    if (count == 0) open_.erase(address);  // a limit of 0 is refused by the options
    return std::nullopt;
  }
  ++count;
  return connection_token(shared_from_this(), std::move(address));
}

std::size_t client_connections::open(ip::address address) const {
  const auto found = open_.find(client_of(address));
  return found == open_.end() ? 0 : found->second;
}

ip::address client_connections::client_of(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

void client_connections::release(const ip::address& address) {
  const auto found = open_.find(address);
  if (found == open_.end()) return;
  if (--found->second == 0) open_.erase(found);
}

}  // namespace deltastream::gateway
