#!/usr/bin/env python3
"""A real Matrix client (matrix-nio) for sitrep's tests and for trying the bot by hand.

Every command prints one JSON line and exits non-zero with the homeserver's error on failure.

    client.py URL TOKEN send ROOM TEXT          -> {"event_id": ...}
    client.py URL TOKEN react ROOM EVENT KEY    -> {"event_id": ...}
    client.py URL TOKEN dm USER                 -> {"room_id": ...} (a new private room with USER invited)
    client.py URL TOKEN join ROOM               -> {"room_id": ...}
    client.py URL TOKEN invites                 -> {"rooms": [room ids this user is invited to]}
    client.py URL TOKEN members ROOM            -> {"joined": [...], "invited": [...]}
    client.py URL TOKEN messages ROOM [LIMIT]   -> {"messages": [{event_id, sender, body, replaces?}], oldest first}
    client.py URL TOKEN whoami                  -> {"user_id": ...}
"""

import asyncio
import json
import sys

import nio


def fail(response):
    sys.exit(f"{type(response).__name__}: {getattr(response, 'message', response)}")


async def run(url, token, command, args):
    client = nio.AsyncClient(url)
    client.access_token = token
    try:
        whoami = await client.whoami()
        if not isinstance(whoami, nio.WhoamiResponse):
            fail(whoami)
        client.user_id = whoami.user_id
        if command == "whoami":
            return {"user_id": whoami.user_id}
        if command == "send":
            room, text = args
            content = {"msgtype": "m.text", "body": text}
            response = await client.room_send(room, "m.room.message", content)
            if not isinstance(response, nio.RoomSendResponse):
                fail(response)
            return {"event_id": response.event_id}
        if command == "react":
            room, event, key = args
            content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event, "key": key}}
            response = await client.room_send(room, "m.reaction", content)
            if not isinstance(response, nio.RoomSendResponse):
                fail(response)
            return {"event_id": response.event_id}
        if command == "dm":
            response = await client.room_create(invite=[args[0]], is_direct=True, preset=nio.RoomPreset.private_chat)
            if not isinstance(response, nio.RoomCreateResponse):
                fail(response)
            return {"room_id": response.room_id}
        if command == "join":
            response = await client.join(args[0])
            if not isinstance(response, nio.JoinResponse):
                fail(response)
            return {"room_id": response.room_id}
        if command == "invites":
            response = await client.sync(timeout=0, full_state=True)
            if not isinstance(response, nio.SyncResponse):
                fail(response)
            return {"rooms": sorted(response.rooms.invite.keys())}
        if command == "members":
            joined, invited = [], []
            state = await client.room_get_state(args[0])
            if not isinstance(state, nio.RoomGetStateResponse):
                fail(state)
            for event in state.events:
                if event.get("type") == "m.room.member":
                    membership = event.get("content", {}).get("membership")
                    if membership == "join":
                        joined.append(event["state_key"])
                    elif membership == "invite":
                        invited.append(event["state_key"])
            return {"joined": sorted(joined), "invited": sorted(invited)}
        if command == "messages":
            limit = int(args[1]) if len(args) > 1 else 100
            response = await client.room_messages(args[0], start="", limit=limit, direction=nio.MessageDirection.back)
            if not isinstance(response, nio.RoomMessagesResponse):
                fail(response)
            messages = []
            for event in reversed(response.chunk):
                source = event.source
                if source.get("type") != "m.room.message":
                    continue
                content = source.get("content", {})
                message = {"event_id": source["event_id"], "sender": source["sender"], "body": content.get("body")}
                relates = content.get("m.relates_to") or {}
                if relates.get("rel_type") == "m.replace":
                    message["replaces"] = relates.get("event_id")
                    message["body"] = (content.get("m.new_content") or {}).get("body", message["body"])
                messages.append(message)
            return {"messages": messages}
        sys.exit(__doc__)
    finally:
        await client.close()


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    print(json.dumps(asyncio.run(run(argv[0], argv[1], argv[2], argv[3:]))))


if __name__ == "__main__":
    main(sys.argv[1:])
