/* placeholder: ctlproto */
